"""Training a language model: schedule, optimizer, one step, loss estimate, the loop (chapter 9).

``train()`` is a plain function that returns a history dict. Callbacks (a live plot, a
progress bar) watch it; checkpoints (``lmtutor.checkpoint``, re-exported here) are written
atomically and a run resumes exactly where it stopped. ``train_step`` is one optimisation step
(forward, loss, backward, clipping, AdamW).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from . import checkpoint as _ckpt
from .checkpoint import TrainingDiverged, load_checkpoint, restore_run, run_state, save_checkpoint
from .data import get_batch
from .device import autocast, get_device, synchronize

__all__ = [
    "TrainConfig",
    "TRAIN_PRESETS",
    "train_preset",
    "lr_at",
    "configure_optimizer",
    "train_step",
    "estimate_loss",
    "train",
    "run_summary",
    "save_checkpoint",
    "load_checkpoint",
    "TrainingDiverged",
]


@dataclass
class TrainConfig:
    """Optimisation settings. ``time_budget`` (seconds) stops early and compresses the schedule."""

    max_steps: int = 3000
    batch_size: int = 32
    lr: float = 2e-3
    min_lr: float | None = None  # end of the cosine; None means lr / 10
    warmup_steps: int = 100
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.99)
    grad_clip: float | None = 1.0
    eval_interval: int = 250
    eval_batches: int = 20
    time_budget: float | None = None
    seed: int = 1337
    checkpoint_interval: int | None = None  # also saves at the end when a path is given
    use_autocast: bool = True  # bf16 on CUDA, nothing on CPU
    compile: bool = False  # torch.compile on CUDA

    def __post_init__(self) -> None:
        optional = ("min_lr", "grad_clip", "time_budget", "checkpoint_interval")
        types = {**dict.fromkeys(_INTS, int), **dict.fromkeys(_FLOATS, float), "use_autocast": bool, "compile": bool}
        _ckpt.check_types(self, types, optional)
        if not (isinstance(self.betas, (tuple, list)) and len(self.betas) == 2 and all(0 <= b < 1 for b in self.betas)):
            raise ValueError(f"TrainConfig.betas must be two numbers in [0, 1), e.g. (0.9, 0.99); got {self.betas!r}")
        checks = {
            "max_steps": self.max_steps >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "min_lr": self.min_lr is None or 0 <= self.min_lr <= self.lr,
            "warmup_steps": 0 <= self.warmup_steps <= self.max_steps,
            "eval_interval": self.eval_interval >= 1,
            "eval_batches": self.eval_batches >= 1,
            "grad_clip": self.grad_clip is None or self.grad_clip > 0,
            "time_budget": self.time_budget is None or self.time_budget > 0,
            "checkpoint_interval": self.checkpoint_interval is None or self.checkpoint_interval >= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(
                f"TrainConfig has invalid values: {', '.join(f'{k}={getattr(self, k)!r}' for k in bad)} "
                "(steps, sizes and intervals must be >= 1, lr > 0, 0 <= min_lr <= lr, warmup_steps <= max_steps)"
            )


_INTS = ("max_steps", "batch_size", "warmup_steps", "eval_interval", "eval_batches", "seed", "checkpoint_interval")
_FLOATS = ("lr", "min_lr", "weight_decay", "grad_clip", "time_budget")

TRAIN_PRESETS: dict[str, TrainConfig] = {
    "nano": TrainConfig(max_steps=300, batch_size=32, lr=3e-3, warmup_steps=30, eval_interval=100, eval_batches=5),
    # ~1000 steps of 64 x 64 tokens: about 2.5 minutes on 2 CPU cores.
    "cpu": TrainConfig(max_steps=1000, batch_size=64, lr=3e-3, warmup_steps=100, eval_interval=250),
    # nanoGPT's Shakespeare-char recipe (val loss ~1.47 on one A100 in a few minutes). The time budget
    # keeps the chapter's cell to 5 minutes on slower GPUs (a Colab T4 has no bf16 and ~8 fp32 TFLOP/s):
    # the cosine schedule is compressed to fit and training stops when it is spent.
    "gpu": TrainConfig(
        max_steps=5000,
        time_budget=300.0,
        batch_size=64,
        lr=1e-3,
        min_lr=1e-4,
        warmup_steps=100,
        eval_interval=500,
        eval_batches=50,
        compile=True,
    ),
}


def train_preset(name: str, **overrides) -> TrainConfig:
    """A named training recipe matching the model preset of the same name."""
    if name not in TRAIN_PRESETS:
        raise ValueError(f"unknown training preset {name!r}; choose one of {sorted(TRAIN_PRESETS)}")
    return replace(TRAIN_PRESETS[name], **overrides)


def lr_at(step: int, cfg: TrainConfig, elapsed: float | None = None) -> float:
    """Linear warmup, then cosine decay to ``min_lr``; progress is by steps or by time, whichever is further."""
    min_lr = cfg.lr / 10 if cfg.min_lr is None else cfg.min_lr
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.max_steps - cfg.warmup_steps)
    if cfg.time_budget and elapsed is not None:
        progress = max(progress, elapsed / cfg.time_budget)
    progress = min(1.0, progress)
    return min_lr + 0.5 * (1 + math.cos(math.pi * progress)) * (cfg.lr - min_lr)


def configure_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device | str) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases and LayerNorm gains); fused kernels."""
    device = torch.device(device)
    params = {id(p): p for p in model.parameters() if p.requires_grad}.values()  # tied weights once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = device.type in ("cuda", "cpu")  # one kernel for all tensors instead of a loop over them
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, fused=fused or None)


def train_step(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    grad_clip: float | None = 1.0,
    use_autocast: bool = True,
    forward: Callable | None = None,
) -> torch.Tensor:
    """One step: forward and loss, backward, gradient clipping, update. Returns the loss without a device sync.

    ``forward(x, y)`` must return ``(logits, loss)``; it defaults to ``model`` (e.g. a compiled model).
    """
    with autocast(x.device, enabled=use_autocast):
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


def _call(callbacks: Sequence, event: str, state: dict) -> None:
    for cb in callbacks:
        fn = getattr(cb, event, None)
        if fn is not None:
            fn(state)


def _check_data(model: nn.Module, **splits: torch.Tensor) -> None:
    """Token ids must fit the model's vocabulary and windows (checked once, not at every step)."""
    vocab, block = model.config.vocab_size, model.config.block_size
    for name, data in splits.items():
        if not isinstance(data, torch.Tensor) or data.dim() != 1 or data.is_floating_point():
            got = f"{tuple(data.shape)} {data.dtype}" if isinstance(data, torch.Tensor) else type(data).__name__
            raise ValueError(f"{name} must be a 1-D tensor of token ids (torch.long), got {got}; encode the text first")
        if len(data) <= block:
            raise ValueError(f"{name} has {len(data)} tokens; it needs more than block_size={block}")
        lo, hi = torch.aminmax(data)
        if lo < 0 or hi >= vocab:
            raise ValueError(
                f"{name} holds token ids in [{int(lo)}, {int(hi)}] but the model's vocabulary is [0, {vocab}); "
                "build the model with GPTConfig(vocab_size=tokenizer.vocab_size)"
            )


def _resume(path, model, optimizer, gen, cfg, device) -> tuple[dict, int, float, float, bool]:
    """Restore a run from its checkpoint: (history, next step, elapsed and training seconds, finished?)."""
    ck = restore_run(path, model, optimizer, gen, device, cfg)
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


def _evaluate(model, data, cfg, device, state, clock, callbacks) -> None:
    """Estimate train/val loss, append it and the throughput since the last evaluation to the history."""
    history, step, block_size = state["history"], state["step"], model.config.block_size
    train_time = clock.pause()  # evaluation time is not training time
    prev_step = history["eval_step"][-1] if history["eval_step"] else -1
    prev_time = history["train_time"][-1] if history["train_time"] else 0.0
    tps = (step - prev_step) * cfg.batch_size * block_size / max(train_time - prev_time, 1e-9)
    elapsed = clock.elapsed()
    losses = estimate_loss(model, data, block_size, cfg.batch_size, cfg.eval_batches, device)
    new = {"eval_step": step, "train_loss": losses["train"], "val_loss": losses["val"]}
    new.update(elapsed=elapsed, train_time=train_time, tokens_per_s=tps)
    for key, value in new.items():
        history[key].append(value)
    state.update(losses=losses, tokens_per_s=tps, elapsed=elapsed)
    _call(callbacks, "on_eval", state)
    clock.resume()


def _loop(model, forward, optimizer, gen, data, cfg, device, callbacks, checkpoint_path, state, clock) -> None:
    """The training loop from ``state["step"]`` to the end (or the time budget)."""
    history, block_size = state["history"], model.config.block_size
    sync_every = 1 if device.type == "cpu" else 25  # reading a loss waits for the GPU: do it rarely there
    pending: list[torch.Tensor] = []
    for step in range(state["step"], cfg.max_steps):
        elapsed = clock.elapsed()
        lr = lr_at(step, cfg, elapsed)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(data["train"], block_size, cfg.batch_size, gen, device)
        pending.append(train_step(model, optimizer, x, y, cfg.grad_clip, cfg.use_autocast, forward))
        out_of_time = cfg.time_budget is not None and elapsed >= cfg.time_budget
        last = step == cfg.max_steps - 1 or out_of_time
        evaluate = step % cfg.eval_interval == 0 or last
        interval = cfg.checkpoint_interval
        save = checkpoint_path is not None and (last or bool(interval and (step + 1) % interval == 0))
        history["step"].append(step)
        history["lr"].append(lr)
        if len(pending) >= sync_every or evaluate or save:
            new = torch.stack(pending).float().tolist()
            history["loss"].extend(new)
            pending.clear()
            _ckpt.check_finite(new, step + 1 - len(new), model, cfg, checkpoint_path, history)  # NaN/inf: stop
        state.update(step=step, loss=history["loss"][-1], lr=lr)
        _call(callbacks, "on_step", state)
        if evaluate:
            _evaluate(model, data, cfg, device, state, clock, callbacks)
        if save:
            _ckpt.check_finite([], step, model, cfg, checkpoint_path, history)  # never save NaN weights over a good run
            state_now = run_state(model, optimizer, step, history, gen, cfg, clock.elapsed(), clock.training_seconds())
            save_checkpoint(checkpoint_path, **state_now)
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
    """
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}; e.g. TrainConfig(max_steps=300)")
    device = torch.device(device) if device is not None else get_device()
    _check_data(model, train_data=train_data, val_data=val_data)
    model.to(device).train()
    optimizer = configure_optimizer(model, cfg, device)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    history, start, elapsed0, train_time0, finished = _new_history(), 0, 0.0, 0.0, False
    if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
        history, start, elapsed0, train_time0, finished = _resume(checkpoint_path, model, optimizer, gen, cfg, device)
    if checkpoint_path is not None and not finished:  # a read-only or full folder is found now, not minutes later
        _ckpt.check_writable(checkpoint_path, 3 * sum(p.numel() * p.element_size() for p in model.parameters()) + 2**20)
    forward = torch.compile(model) if cfg.compile and device.type == "cuda" else model
    state = {"cfg": cfg, "history": history, "step": start, "model": model, "device": device}
    _call(callbacks, "on_start", state)
    if not finished:
        clock = _Clock(elapsed0, train_time0, device)
        data = {"train": train_data, "val": val_data}
        _loop(model, forward, optimizer, gen, data, cfg, device, callbacks, checkpoint_path, state, clock)
    _call(callbacks, "on_end", state)
    model.eval()
    return history


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
