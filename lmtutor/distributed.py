"""Training on several processes with PyTorch's DistributedDataParallel (chapter 15).

``torchrun`` starts N copies of the same program and tells each its place in the environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``). ``init()`` joins that
process group (gloo on CPUs, NCCL on CUDA GPUs); ``lmtutor.train.train`` then runs unchanged: every
rank draws the same global batch of ``batch_size`` windows and keeps its own slice of
``batch_size / N`` rows, DDP averages the gradients during ``backward``, and rank 0 alone evaluates,
prints and writes checkpoints. The result equals one process that trains on the whole batch.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from .device import get_device

# fmt: off
__all__ = ["World", "DistributedError", "world", "init", "rank_device", "shutdown", "rows_of_rank", "all_mean",
           "from_rank0", "gather_rng_states"]
# fmt: on

_ENV = ("RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
_LAUNCH = "torchrun --nproc-per-node N -m lmtutor train ..."


class DistributedError(RuntimeError):
    """The process group cannot be joined, or a setting does not fit the number of processes."""


@dataclass(frozen=True)
class World:
    """This process's place among the training processes: ``rank`` of ``size``, ``local_rank`` on its machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the process that evaluates, prints and writes checkpoints."""
        return self.rank == 0


def world() -> World:
    """The initialised process group's view of this process; a single process (rank 0 of 1) otherwise."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    return World()


def _env_size() -> int:
    text = os.environ.get("WORLD_SIZE", "1")
    if not text.isdigit() or int(text) < 1:
        raise DistributedError(f"WORLD_SIZE={text!r} is not a number of processes; start the run with {_LAUNCH}")
    return int(text)


def init(device: str | torch.device | None = None, timeout: float = 120.0) -> tuple[World, torch.device]:
    """Join the process group that ``torchrun`` describes in the environment; return ``(world, device)``.

    Without torchrun (no ``WORLD_SIZE`` or ``WORLD_SIZE=1``) nothing is initialised: one process on
    ``get_device(device)``. With CUDA each process takes the GPU ``LOCAL_RANK`` and NCCL; otherwise
    gloo on the CPU. ``timeout`` (seconds) bounds the wait for the other processes.
    """
    if dist.is_available() and dist.is_initialized():
        return world(), rank_device(get_device(device), world())
    size = _env_size()
    if size == 1:
        return World(), get_device(device)
    missing = [k for k in _ENV if k not in os.environ]
    if missing:
        raise DistributedError(
            f"WORLD_SIZE={size} but {', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set: start the "
            f"processes with {_LAUNCH} (it sets them all), or set MASTER_ADDR and MASTER_PORT to the rendezvous "
            "host and a free port, and RANK/LOCAL_RANK for each process"
        )
    me = World(int(os.environ["RANK"]), size, int(os.environ["LOCAL_RANK"]))
    device = rank_device(get_device(device), me)
    backend = "nccl" if device.type == "cuda" else "gloo"
    try:
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout), rank=me.rank, world_size=size)
    except (RuntimeError, ValueError) as err:  # DistStoreError, DistNetworkError: a RuntimeError
        where = f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}"
        first = (str(err).strip().splitlines() or [type(err).__name__])[0][:200]
        raise DistributedError(
            f"rank {me.rank} of {size} could not join the process group at {where} within {timeout:g} s ({first}); "
            f"are all {size} processes started (on every machine), and is {where} reachable from each?"
        ) from None
    return world(), device


def rank_device(device: torch.device, me: World) -> torch.device:
    """This rank's device: GPU number ``local_rank`` on CUDA (one GPU per process); the CPU is shared."""
    if device.type != "cuda" or me.size == 1:
        return device
    if me.local_rank >= torch.cuda.device_count():
        raise DistributedError(
            f"LOCAL_RANK={me.local_rank} but this machine has {torch.cuda.device_count()} GPU(s); "
            "use --nproc-per-node at most the number of GPUs"
        )
    torch.cuda.set_device(me.local_rank)
    return torch.device("cuda", me.local_rank)


def shutdown(wait: bool = True) -> None:
    """Leave the process group at the end of a run, after every rank got there (``wait``); nothing for one process.

    After an error pass ``wait=False``: the other ranks may be inside another collective, and this
    process exiting is what tells ``torchrun`` to stop them.
    """
    if dist.is_available() and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def rows_of_rank(batch_size: int, me: World) -> slice:
    """The rows of a global batch that this rank trains on; the batch must split evenly."""
    if batch_size % me.size:
        options = [n for n in range(1, batch_size + 1) if batch_size % n == 0 and n <= 2 * me.size]
        raise DistributedError(
            f"batch_size={batch_size} cannot be split evenly over {me.size} processes; use a batch_size that is "
            f"a multiple of {me.size} (e.g. {batch_size - batch_size % me.size or me.size}), or a number of "
            f"processes that divides {batch_size} (e.g. {options[-1]})"
        )
    per_rank = batch_size // me.size
    return slice(me.rank * per_rank, (me.rank + 1) * per_rank)


def all_mean(t: torch.Tensor) -> torch.Tensor:
    """The mean of ``t`` over all processes (``t`` itself for one process). Every rank must call it."""
    me = world()
    if me.size == 1:
        return t
    t = t.detach().clone()
    dist.all_reduce(t, op=dist.ReduceOp.SUM)  # gloo has no AVG
    return t / me.size


def from_rank0(value: float) -> float:
    """Rank 0's ``value`` on every rank (e.g. the clock that the schedule and the time budget follow)."""
    if world().size == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        t = t.cuda()
    dist.broadcast(t, src=0)
    return float(t.item())


def gather_rng_states() -> list[torch.Tensor]:
    """Every rank's CPU RNG state (rank order), so a checkpoint can restore each rank's dropout stream."""
    me, state = world(), torch.get_rng_state()
    if me.size == 1:
        return [state]
    if dist.get_backend() == "nccl":
        out = [torch.empty_like(state).cuda() for _ in range(me.size)]
        dist.all_gather(out, state.cuda())
        return [s.cpu() for s in out]
    out = [torch.empty_like(state) for _ in range(me.size)]
    dist.all_gather(out, state)
    return out
