"""Training a language model: schedule, optimizer, one step, loss estimate, the loop (chapter 9).

``train()`` is a plain function that returns a history dict. Callbacks (a live plot, a
progress bar) watch it; checkpoints (``lmtutor.checkpoint``, re-exported here) are written
atomically and a run resumes exactly where it stopped. ``train_step`` is one optimisation step
(forward, loss, backward, clipping, AdamW). Started by ``torchrun``, the same loop trains on
several processes with DDP (``lmtutor.distributed``, chapter 15).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from . import checkpoint as _ckpt
from . import distributed as _dist
from .checkpoint import CheckpointError, TrainingDiverged, load_checkpoint, restore_run, run_state, save_checkpoint
from .config import TrainConfig, lr_at, train_preset
from .data import check_token_ids, get_batch
from .device import autocast, get_device, synchronize

# fmt: off
__all__ = ["TrainConfig", "train_preset", "lr_at", "configure_optimizer", "set_lr", "hf_loss", "train_step",
           "estimate_loss", "train", "run_summary", "save_checkpoint", "load_checkpoint", "TrainingDiverged"]
# fmt: on


def configure_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device | str) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases and LayerNorm gains); fused kernels."""
    device = torch.device(device)
    params = {id(p): p for p in model.parameters() if p.requires_grad}.values()  # tied weights once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = device.type in ("cuda", "cpu")  # one kernel for all tensors instead of a loop over them
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, fused=fused or None)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Give every parameter group the learning rate ``lr`` (the schedule's value for this step)."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def hf_loss(model: nn.Module):
    """``forward`` for ``train_step`` with a 🤗 model: the batch is a dict of its keyword arguments, labels included."""
    return lambda batch, _: (None, model(**batch).loss)


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x,
    y=None,
    grad_clip: float | None = 1.0,
    use_autocast: bool = True,
    forward: Callable | None = None,
) -> torch.Tensor:
    """One step: forward and loss, backward, gradient clipping, update. Returns the loss without a device sync.

    ``forward(x, y)`` must return ``(logits, loss)``; it defaults to ``model`` (e.g. a compiled model).
    ``x`` and ``y`` are whatever ``forward`` takes: token ids for a GPT, a batch object or dict for other
    models (every training loop of the book runs its steps through this function).
    """
    device = x.device if isinstance(x, torch.Tensor) else next(model.parameters()).device
    with autocast(device, enabled=use_autocast):
        _, loss = (forward or model)(x, y)
    optimizer.zero_grad(set_to_none=True)  # free the old gradients instead of writing zeros
    loss.backward()
    if grad_clip:
        nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.detach()


@torch.no_grad()
def estimate_loss(
    model: nn.Module,
    splits: dict[str, torch.Tensor],
    block_size: int,
    batch_size: int,
    n_batches: int = 20,
    device: torch.device | str = "cpu",
    seed: int = 0,
) -> dict[str, float]:
    """Mean loss over ``n_batches`` random batches per split, with a fixed seed so evaluations compare."""
    was_training = model.training
    model.eval()
    out = {}
    for name, data in splits.items():
        gen = torch.Generator().manual_seed(seed)
        losses = []
        for _ in range(n_batches):
            x, y = get_batch(data, block_size, batch_size, gen, device)
            with autocast(device):
                losses.append(model(x, y)[1])
        out[name] = torch.stack(losses).double().mean().item()  # one device sync per split, not per batch
    model.train(was_training)
    return out


def _new_history() -> dict[str, list]:
    keys = ("step", "lr", "loss", "eval_step", "train_loss", "val_loss", "elapsed", "train_time", "tokens_per_s")
    return {k: [] for k in keys}


def _resume(path, model, optimizer, gen, cfg, device, me: _dist.World) -> tuple[dict, int, float, float, bool]:
    """Restore a run from its checkpoint: (history, next step, elapsed and training seconds, finished?)."""
    ck = restore_run(path, model, optimizer, gen, device, cfg)
    saved_size = ck.get("world_size", 1)
    if saved_size != me.size:
        raise CheckpointError(
            f"cannot resume from {path}: it was written by a run on {saved_size} process(es), this run has "
            f"{me.size}. Resume it with the same number (torchrun --nproc-per-node {saved_size} ... or, for 1, "
            "without torchrun); to start a new run instead, pass resume=False or another checkpoint_path"
        )
    if me.size > 1:
        torch.set_rng_state(ck["torch_rng_ranks"][me.rank])  # each rank's own dropout stream
    history = ck["history"]
    history.setdefault("train_time", [])  # checkpoints of older versions
    out_of_time = cfg.time_budget is not None and ck["elapsed"] >= cfg.time_budget
    finished = ck["step"] + 1 >= cfg.max_steps or out_of_time
    return history, ck["step"] + 1, ck["elapsed"], ck.get("train_time", ck["elapsed"]), finished


class _Clock:
    """Wall time of the run, and training time without evaluations (for honest tokens/s)."""

    def __init__(self, elapsed0: float, train_time0: float, device: torch.device):
        self.device = device
        self.t0 = time.perf_counter() - elapsed0
        self.train_time, self.mark = train_time0, time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def training_seconds(self) -> float:
        return self.train_time + (time.perf_counter() - self.mark if self.mark is not None else 0.0)

    def pause(self) -> float:
        """Stop the training clock (before an evaluation); returns the training seconds so far."""
        synchronize(self.device)
        self.train_time, self.mark = self.training_seconds(), None
        return self.train_time

    def resume(self) -> None:
        self.mark = time.perf_counter()


@dataclass
class _Run:
    """One training run: what the loop reads, and ``state``, the dict its callbacks are shown."""

    model: nn.Module
    forward: Callable  # the model, or its compiled version
    optimizer: torch.optim.Optimizer
    gen: torch.Generator | None  # draws the batches; saved in checkpoints, so a resumed run draws the same
    data: dict[str, torch.Tensor]  # "train" and "val" token ids
    cfg: TrainConfig
    device: torch.device
    callbacks: Sequence
    checkpoint_path: str | Path | None
    clock: _Clock
    state: dict  # cfg, history, step, model, device; after each step loss and lr; after evaluations more
    world: _dist.World = _dist.World()  # this process among the DDP processes (rank 0 of 1 without torchrun)
    rows: slice | None = None  # this process's rows of each global batch (None: all of them)

    def call(self, event: str) -> None:
        if not self.world.main:  # one process reports
            return
        for cb in self.callbacks:
            fn = getattr(cb, event, None)
            if fn is not None:
                fn(self.state)

    def save(self, step: int) -> None:
        """Write the checkpoint (never NaN weights over a good run); rank 0 writes, every rank gives its RNG."""
        history = self.state["history"]
        _ckpt.check_finite([], step, self.model, self.cfg, self.checkpoint_path, history)
        rng_states = _dist.gather_rng_states() if self.world.size > 1 else None  # a collective: every rank
        if not self.world.main:
            return
        elapsed, train_time = self.clock.elapsed(), self.clock.training_seconds()
        now = run_state(self.model, self.optimizer, step, history, self.gen, self.cfg, elapsed, train_time)
        now["world_size"] = self.world.size
        if rng_states is not None:
            now["torch_rng_ranks"] = rng_states
        save_checkpoint(self.checkpoint_path, **now)


def _evaluate(run: _Run) -> None:
    """Estimate train/val loss, append it and the throughput since the last evaluation to the history."""
    state, cfg, block_size = run.state, run.cfg, run.model.config.block_size
    history, step = state["history"], state["step"]
    train_time = run.clock.pause()  # evaluation time is not training time
    prev_step = history["eval_step"][-1] if history["eval_step"] else -1
    prev_time = history["train_time"][-1] if history["train_time"] else 0.0
    tps = (step - prev_step) * cfg.batch_size * block_size / max(train_time - prev_time, 1e-9)
    elapsed = run.clock.elapsed()
    losses = estimate_loss(run.model, run.data, block_size, cfg.batch_size, cfg.eval_batches, run.device)
    new = {"eval_step": step, "train_loss": losses["train"], "val_loss": losses["val"]}
    new.update(elapsed=elapsed, train_time=train_time, tokens_per_s=tps)
    for key, value in new.items():
        history[key].append(value)
    state.update(losses=losses, tokens_per_s=tps, elapsed=elapsed)
    run.call("on_eval")
    run.clock.resume()


def _loop(run: _Run) -> None:
    """The training loop from ``run.state["step"]`` to the end (or the time budget)."""
    cfg, history, block_size = run.cfg, run.state["history"], run.model.config.block_size
    sync_every = 1 if run.device.type == "cpu" else 25  # reading a loss waits for the GPU: do it rarely there
    pending: list[torch.Tensor] = []
    one_clock = run.world.size > 1 and cfg.time_budget is not None  # schedule and stop follow rank 0's clock
    start = run.state["step"]
    for step in range(start, cfg.max_steps):
        if not one_clock:
            elapsed = run.clock.elapsed()
        elif (step - start) % sync_every == 0:  # a broadcast waits for the GPU: every 25 steps there
            elapsed = _dist.from_rank0(run.clock.elapsed())
        lr = lr_at(step, cfg, elapsed)
        set_lr(run.optimizer, lr)
        x, y = get_batch(run.data["train"], block_size, cfg.batch_size, run.gen, run.device, run.rows)
        pending.append(train_step(run.model, run.optimizer, x, y, cfg.grad_clip, cfg.use_autocast, run.forward))
        out_of_time = cfg.time_budget is not None and elapsed >= cfg.time_budget
        last = step == cfg.max_steps - 1 or out_of_time
        evaluate = step % cfg.eval_interval == 0 or last
        interval = cfg.checkpoint_interval
        save = run.checkpoint_path is not None and (last or bool(interval and (step + 1) % interval == 0))
        history["step"].append(step)
        history["lr"].append(lr)
        if len(pending) >= sync_every or evaluate or save:
            new = _dist.all_mean(torch.stack(pending)).float().tolist()  # the loss of the global batch
            history["loss"].extend(new)
            pending.clear()
            first = step + 1 - len(new)
            _ckpt.check_finite(new, first, run.model, cfg, run.checkpoint_path, history)  # NaN/inf: stop
        run.state.update(step=step, loss=history["loss"][-1], lr=lr)
        run.call("on_step")
        if evaluate and run.world.main:
            _evaluate(run)
        if save:
            run.save(step)
        if out_of_time:
            break


def train(
    model: nn.Module,
    train_data: torch.Tensor,
    val_data: torch.Tensor,
    cfg: TrainConfig,
    device: torch.device | str | None = None,
    callbacks: Sequence = (),
    checkpoint_path: str | Path | None = None,
    resume: bool = False,
) -> dict[str, list]:
    """Train a next-token model on 1-D token tensors; return the history (losses, lr, tokens/s).

    With ``checkpoint_path`` and ``resume=True`` an existing checkpoint is loaded and training
    continues from its step (a finished run is just loaded); the result is the same as an
    uninterrupted run (on CPU). A damaged checkpoint, or one saved with other model or training
    settings, is refused with a message naming the differences; a NaN/inf loss stops the run
    (``TrainingDiverged``) without overwriting the last good checkpoint.

    Under ``torchrun`` (after ``lmtutor.distributed.init()``) each of the N processes trains on its
    ``batch_size / N`` rows of the same global batch with DDP; rank 0 evaluates, calls the callbacks
    and writes the checkpoint, and the returned history is complete on rank 0.
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}; e.g. TrainConfig(max_steps=300)")
    me = _dist.world()
    device = _dist.rank_device(get_device(device), me)
    rows = _dist.rows_of_rank(cfg.batch_size, me)
    check_token_ids(model.config.vocab_size, model.config.block_size, train_data=train_data, val_data=val_data)
    model.to(device).train()
    optimizer = configure_optimizer(model, cfg, device)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed + me.rank)  # dropout differs between ranks, as between rows of one batch
    history, start, elapsed0, train_time0, finished = _new_history(), 0, 0.0, 0.0, False
    if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
        resumed = _resume(checkpoint_path, model, optimizer, gen, cfg, device, me)
        history, start, elapsed0, train_time0, finished = resumed
    start0 = int(_dist.from_rank0(float(start)))  # a collective on every rank (a no-op for one process)
    if start0 != start:  # e.g. machines without a shared folder for the checkpoint
        raise CheckpointError(
            f"rank {me.rank} would start at step {start} but rank 0 at step {start0}: every process must read "
            f"the same checkpoint; put {checkpoint_path} in a folder that all machines share"
        )
    if checkpoint_path is not None and not finished and me.main:  # a read-only or full folder is found now
        _ckpt.check_writable(checkpoint_path, 3 * sum(p.numel() * p.element_size() for p in model.parameters()) + 2**20)
    forward = _parallel(model, device, me)
    forward = torch.compile(forward) if cfg.compile and device.type == "cuda" else forward
    state = {"cfg": cfg, "history": history, "step": start, "model": model, "device": device}
    data, clock = {"train": train_data, "val": val_data}, _Clock(elapsed0, train_time0, device)
    run = _Run(model, forward, optimizer, gen, data, cfg, device, callbacks, checkpoint_path, clock, state, me, rows)
    run.call("on_start")
    if not finished:
        _loop(run)
    run.call("on_end")
    model.eval()
    return history


def _parallel(model: nn.Module, device: torch.device, me: _dist.World) -> nn.Module:
    """The model itself for one process; wrapped in DDP (gradients averaged in backward) for several."""
    if me.size == 1:
        return model
    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def run_summary(history: dict[str, list], tokens_per_step: int) -> dict[str, float]:
    """Steps, tokens, training seconds, tokens/s and the last losses of a ``train()`` history."""
    if not history.get("eval_step"):
        raise ValueError("the history has no evaluation yet; train for at least one step first")
    steps = len(history["step"])
    seconds = history["train_time"][-1] if history.get("train_time") else history["elapsed"][-1]
    return {
        "steps": steps,
        "tokens": steps * tokens_per_step,
        "train_seconds": seconds,
        "wall_seconds": history["elapsed"][-1],
        "tokens_per_s": steps * tokens_per_step / max(seconds, 1e-9),
        "train_loss": history["train_loss"][-1],
        "val_loss": history["val_loss"][-1],
    }
