"""Checkpoints of training runs: atomic saving, safe loading, and what a resumable run stores (chapter 9)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

__all__ = ["save_checkpoint", "load_checkpoint", "run_state", "restore_run"]


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


def run_state(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    history: dict,
    generator: torch.Generator,
    cfg,
    elapsed: float,
    train_time: float,
) -> dict:
    """Everything a run needs to continue exactly: weights, optimizer moments, step, history, RNG states, configs."""
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "history": history,
        "generator": generator.get_state(),
        "torch_rng": torch.get_rng_state(),
        "train_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(cfg).items()},
        "model_config": model.config.to_dict() if hasattr(model, "config") else {},
        "elapsed": elapsed,
        "train_time": train_time,
    }


def restore_run(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
) -> dict:
    """Load a ``run_state`` checkpoint into the model, the optimizer and both RNGs; return the checkpoint."""
    ck = load_checkpoint(path, map_location=device)
    model.load_state_dict(ck["model"])
    optimizer.load_state_dict(ck["optimizer"])
    generator.set_state(ck["generator"])
    torch.set_rng_state(ck["torch_rng"])
    return ck
