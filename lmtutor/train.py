"""Training a language model: schedule, optimizer, loss estimate, the loop, checkpoints (chapter 9).

``train()`` is a plain function that returns a history dict. Callbacks (a live plot, a
progress bar) watch it; checkpoints are written atomically and a run resumes exactly where
it stopped.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from torch import nn

from .data import get_batch
from .device import autocast, get_device, synchronize

__all__ = [
    "TrainConfig",
    "TRAIN_PRESETS",
    "train_preset",
    "lr_at",
    "configure_optimizer",
    "estimate_loss",
    "train",
    "save_checkpoint",
    "load_checkpoint",
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
        checks = {
            "max_steps": self.max_steps >= 1,
            "batch_size": self.batch_size >= 1,
            "lr": self.lr > 0,
            "warmup_steps": 0 <= self.warmup_steps <= self.max_steps,
            "eval_interval": self.eval_interval >= 1,
            "eval_batches": self.eval_batches >= 1,
        }
        bad = [k for k, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"TrainConfig has invalid values: {', '.join(f'{k}={getattr(self, k)!r}' for k in bad)}")


TRAIN_PRESETS: dict[str, TrainConfig] = {
    "nano": TrainConfig(max_steps=300, batch_size=32, lr=3e-3, warmup_steps=30, eval_interval=100, eval_batches=5),
    # ~1000 steps of 64 x 64 tokens: about 2.5 minutes on 2 CPU cores.
    "cpu": TrainConfig(max_steps=1000, batch_size=64, lr=3e-3, warmup_steps=100, eval_interval=250),
    # nanoGPT's Shakespeare-char recipe (val loss ~1.47 on one A100 in a few minutes).
    "gpu": TrainConfig(
        max_steps=5000,
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


def configure_optimizer(model: nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases and LayerNorm gains); fused kernels."""
    params = {id(p): p for p in model.parameters() if p.requires_grad}.values()  # tied weights once
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    fused = device.type in ("cuda", "cpu")  # one kernel per step instead of one per tensor
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, fused=fused)


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
                losses.append(model(x, y)[1].float().item())
        out[name] = sum(losses) / len(losses)
    model.train(was_training)
    return out


def save_checkpoint(path: str | Path, **state) -> Path:
    """Write ``state`` (tensors, dicts, numbers) to ``path`` atomically: temp file, fsync, rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by ``save_checkpoint`` with ``weights_only=True`` (no pickled code)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}; train first or check the path")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise RuntimeError(
            f"{path} is not a readable lmtutor checkpoint ({type(err).__name__}: {str(err)[:200]}); "
            "delete it and train again"
        ) from None


def _new_history() -> dict[str, list]:
    keys = ("step", "lr", "loss", "eval_step", "train_loss", "val_loss", "elapsed", "tokens_per_s")
    return {k: [] for k in keys}


def _state(model, optimizer, step, history, gen, cfg, elapsed) -> dict:
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "history": history,
        "generator": gen.get_state(),
        "torch_rng": torch.get_rng_state(),
        "train_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
        "model_config": model.config.to_dict() if hasattr(model, "config") else {},
        "elapsed": elapsed,
    }


def _call(callbacks: Sequence, event: str, state: dict) -> None:
    for cb in callbacks:
        fn = getattr(cb, event, None)
        if fn is not None:
            fn(state)


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
    continues from its step; the result is the same as an uninterrupted run (on CPU).
    """
    device = torch.device(device) if device is not None else get_device()
    block_size = model.config.block_size
    model.to(device).train()
    optimizer = configure_optimizer(model, cfg, device)
    gen = torch.Generator().manual_seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    history, start, elapsed0 = _new_history(), 0, 0.0
    if resume and checkpoint_path is not None and Path(checkpoint_path).exists():
        ck = load_checkpoint(checkpoint_path, map_location=device)
        model.load_state_dict(ck["model"])
        optimizer.load_state_dict(ck["optimizer"])
        gen.set_state(ck["generator"])
        torch.set_rng_state(ck["torch_rng"])
        history, start, elapsed0 = ck["history"], ck["step"] + 1, ck["elapsed"]
    step_fn = torch.compile(model) if cfg.compile and device.type == "cuda" else model
    splits = {"train": train_data, "val": val_data}
    tokens_per_step = cfg.batch_size * block_size
    state = {"cfg": cfg, "history": history, "step": start, "model": model}
    _call(callbacks, "on_start", state)
    t0, step = time.perf_counter() - elapsed0, start
    t_last, step_last = time.perf_counter(), start
    for step in range(start, cfg.max_steps):
        elapsed = time.perf_counter() - t0
        lr = lr_at(step, cfg, elapsed)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = get_batch(train_data, block_size, cfg.batch_size, gen, device)
        with autocast(device, enabled=cfg.use_autocast):
            _, loss = step_fn(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        optimizer.step()
        out_of_time = cfg.time_budget is not None and elapsed >= cfg.time_budget
        last = step == cfg.max_steps - 1 or out_of_time
        history["step"].append(step)
        history["lr"].append(lr)
        history["loss"].append(loss.item())
        state.update(step=step, loss=history["loss"][-1], lr=lr)
        _call(callbacks, "on_step", state)
        if step % cfg.eval_interval == 0 or last:
            synchronize(device)
            now = time.perf_counter()
            tps = (step + 1 - step_last) * tokens_per_step / max(now - t_last, 1e-9)
            losses = estimate_loss(model, splits, block_size, cfg.batch_size, cfg.eval_batches, device)
            history["eval_step"].append(step)
            history["train_loss"].append(losses["train"])
            history["val_loss"].append(losses["val"])
            history["elapsed"].append(now - t0)
            history["tokens_per_s"].append(tps)
            state.update(losses=losses, tokens_per_s=tps, elapsed=now - t0)
            _call(callbacks, "on_eval", state)
            t_last, step_last = time.perf_counter(), step + 1  # evaluation time is not training time
        if checkpoint_path is not None and (
            last or (cfg.checkpoint_interval and (step + 1) % cfg.checkpoint_interval == 0)
        ):
            save_checkpoint(
                checkpoint_path, **_state(model, optimizer, step, history, gen, cfg, time.perf_counter() - t0)
            )
        if out_of_time:
            break
    _call(callbacks, "on_end", state)
    model.eval()
    return history
