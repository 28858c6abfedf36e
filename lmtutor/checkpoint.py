"""Checkpoints of training runs: atomic self-verifying saves, safe loading, what a resumable run stores (ch. 9).

A checkpoint is one ``torch.save`` file holding only tensors, numbers, strings, lists and dicts
(loaded with ``weights_only=True``) plus the SHA-256 of that content, recomputed at every load: a
flipped bit or a truncated copy is refused instead of silently changing the weights. Resuming
compares the saved model and training settings with the new ones and names every difference.
"""

from __future__ import annotations

import hashlib
import math
import re
import shutil
import tempfile
import warnings
from dataclasses import asdict
from pathlib import Path

import torch
from torch import nn

from .storage import atomic_file, clean_stale_temps

# fmt: off
__all__ = ["CheckpointError", "TrainingDiverged", "save_checkpoint", "load_checkpoint", "content_hash", "run_state",
           "restore_run", "check_writable", "check_finite", "clean_stale_temps"]
# fmt: on

HASH_KEY = "_lmtutor_sha256"
# Settings that change the training trajectory; the others (evaluation, checkpoint interval, compile) do not.
TRAJECTORY = ("batch_size", "lr", "min_lr", "warmup_steps", "weight_decay", "betas", "grad_clip", "time_budget", "seed")
_PLAIN = (int, float, str, bool, type(None), torch.dtype, torch.device)


class CheckpointError(RuntimeError):
    """A checkpoint cannot be written, is damaged, or does not belong to this model/run."""


class TrainingDiverged(RuntimeError):
    """The loss or the weights became NaN/inf; ``history`` holds the run up to that point."""

    def __init__(self, message: str, history: dict | None = None):
        super().__init__(message)
        self.history = history


def _feed(h, obj) -> None:
    """Hash ``obj`` in a canonical way: tensors by dtype, shape and bytes; containers element by element."""
    if isinstance(obj, torch.Tensor):
        t = obj.detach().cpu().contiguous().reshape(-1)
        h.update(f"T{t.dtype}{tuple(obj.shape)}:".encode())
        h.update(t.view(torch.uint8).numpy())
    elif isinstance(obj, dict):
        h.update(f"{{{len(obj)}:".encode())
        for key, value in obj.items():
            _feed(h, key)
            _feed(h, value)
    elif isinstance(obj, (list, tuple)):
        h.update(f"[{len(obj)}:".encode())
        for value in obj:
            _feed(h, value)
    else:
        h.update(f"{type(obj).__name__}={obj!r};".encode())


def content_hash(state: dict) -> str:
    """Hex SHA-256 of a checkpoint's content (tensor bytes and every number, string and key)."""
    h = hashlib.sha256()
    _feed(h, state)
    return h.hexdigest()


def _check_plain(obj, where: str) -> None:
    """Only what ``torch.load(weights_only=True)`` reads back may go into a checkpoint."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            _check_plain(value, f"{where}[{key!r}]")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _check_plain(value, f"{where}[{i}]")
    elif not isinstance(obj, (torch.Tensor, *_PLAIN)):
        fix = "dataclasses.asdict(it) or its .to_dict()" if hasattr(obj, "__dataclass_fields__") else "a dict"
        raise TypeError(
            f"save_checkpoint: {where} is a {type(obj).__name__} object, but a checkpoint holds only tensors, "
            f"numbers, strings, lists and dicts (it is loaded with weights_only=True); store {fix} instead"
        )


def _not_a_folder(path: Path) -> None:
    if path.is_dir():
        raise IsADirectoryError(
            f"checkpoint path {path} is a folder; pass the path of a file inside it, e.g. {path / 'run.pt'}"
        )


def save_checkpoint(path: str | Path, **state) -> Path:
    """Write ``state`` (tensors, dicts, numbers) and its content hash to ``path`` atomically (temp file, rename)."""
    path = Path(path)
    _not_a_folder(path)
    if HASH_KEY in state:
        raise ValueError(f"save_checkpoint: the key {HASH_KEY!r} is reserved for the content hash")
    for key, value in state.items():
        _check_plain(value, f"state[{key!r}]")
    with atomic_file(path, "wb", fsync=True) as f:
        torch.save({**state, HASH_KEY: content_hash(state)}, f)
    return path


def _unreadable(path: Path, err: Exception) -> CheckpointError:
    text = str(err)
    found = re.search(r"Unsupported global: GLOBAL (\S+)", text)
    if found:
        return CheckpointError(
            f"{path} holds Python objects besides tensors, numbers, strings, lists and dicts (a {found[1]}), which "
            "lmtutor does not unpickle (weights_only=True). Store configs as dicts (dataclasses.asdict(cfg)); if you "
            "trust this file, convert it once with torch.load(path, weights_only=False) and save_checkpoint."
        )
    return CheckpointError(
        f"{path} is not a readable lmtutor checkpoint ({type(err).__name__}: {text.splitlines()[0][:120]}); "
        "it is damaged or not a checkpoint: delete it and train again"
    )


def _load(path: Path, map_location) -> tuple[dict, bool]:
    """Load and verify; return the checkpoint and whether it carried a content hash."""
    _not_a_folder(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}; train first or check the path")
    try:
        ck = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:
        raise _unreadable(path, err) from None
    if not isinstance(ck, dict):
        raise CheckpointError(f"{path} holds a {type(ck).__name__}, not an lmtutor checkpoint (a dict)")
    stored = ck.pop(HASH_KEY, None)
    if stored is not None and stored != content_hash(ck):
        raise CheckpointError(
            f"{path} is damaged: its content no longer matches the SHA-256 stored when it was saved "
            "(a changed byte on disk or an incomplete copy). Delete it and train again, or copy it again."
        )
    return ck, stored is not None


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Load a checkpoint written by ``save_checkpoint`` (``weights_only=True``) and verify its content hash.

    A damaged file raises ``CheckpointError``; a checkpoint of an older lmtutor (no hash) loads with a warning.
    """
    ck, verified = _load(Path(path), map_location)
    if not verified:
        warnings.warn(
            f"{Path(path).name} has no content hash (saved by an older lmtutor), so it cannot be verified; "
            "it loads as it is. Saving it again (or train(..., resume=True)) adds the hash.",
            stacklevel=2,
        )
    return ck


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


def _differences(saved: dict, now: dict, keys) -> list[str]:
    norm = lambda v: list(v) if isinstance(v, tuple) else v  # noqa: E731
    return [
        f"{k}={saved[k]!r} (checkpoint) vs {now[k]!r} (now)"
        for k in keys
        if k in saved and norm(saved[k]) != norm(now[k])
    ]


def check_compatible(path: Path, ck: dict, model: nn.Module, cfg) -> None:
    """Refuse to resume when the model shape or the training settings differ from the checkpoint's."""
    restart = "to start a new run instead, pass resume=False or another checkpoint_path"
    now_model = model.config.to_dict() if hasattr(model, "config") else {}
    saved_model = ck.get("model_config") or {}
    diff = _differences(saved_model, now_model, [k for k in now_model if k != "extra"])
    if diff:
        raise CheckpointError(
            f"cannot resume from {path}: it was saved by a different model: {'; '.join(diff)}. To continue it, "
            f"build the model with GPTConfig(**checkpoint['model_config']); {restart}."
        )
    if cfg is None:
        return
    saved, now = ck.get("train_config") or {}, asdict(cfg)
    if ck["step"] + 1 > cfg.max_steps:
        raise CheckpointError(
            f"{path} has already trained {ck['step'] + 1} steps, past max_steps={cfg.max_steps}. To load it as "
            f"it is, use max_steps={saved.get('max_steps', ck['step'] + 1)} (the checkpoint's setting); {restart}."
        )
    diff = _differences(saved, now, ("max_steps", *TRAJECTORY))
    if diff:
        raise CheckpointError(
            f"cannot resume from {path}: its training settings differ: {'; '.join(diff)}. Continuing would mix "
            f"two runs; to continue it, use the checkpoint's settings (checkpoint['train_config']); {restart}."
        )


def restore_run(
    path: str | Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    device: torch.device | str = "cpu",
    cfg=None,
) -> dict:
    """Load a ``run_state`` checkpoint into the model, the optimizer and both RNGs; return the checkpoint.

    With ``cfg`` (a ``TrainConfig``) the saved settings must match (see ``check_compatible``).
    """
    path = Path(path)
    ck, verified = _load(path, device)
    check_compatible(path, ck, model, cfg)
    try:
        model.load_state_dict(ck["model"])
    except RuntimeError as err:
        detail = (str(err).splitlines()[1:] or [str(err)])[0].strip()[:160]
        raise CheckpointError(
            f"the weights in {path} do not fit this model ({detail} ...); "
            "build the model that saved it, or pass resume=False / another checkpoint_path"
        ) from None
    optimizer.load_state_dict(ck["optimizer"])
    generator.set_state(ck["generator"])
    torch.set_rng_state(ck["torch_rng"])
    if not verified:  # an older checkpoint without a hash: add one now, so the warning is shown once
        msg = f"{path.name} was saved by an older lmtutor without a content hash; it was loaded unverified"
        try:
            save_checkpoint(path, **ck)
            msg += " and saved again with one."
        except OSError:
            msg += " (its folder is read-only, so it keeps no hash)."
        warnings.warn(msg, stacklevel=3)
    return ck


def check_writable(path: str | Path, nbytes: int) -> None:
    """Before training: the checkpoint folder exists or can be made, takes a file, and has room for ``nbytes``."""
    path = Path(path)
    _not_a_folder(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path.parent):
            pass
    except OSError as err:
        raise CheckpointError(
            f"cannot write checkpoints to {path.parent} ({type(err).__name__}: {err.strerror or err}); pass a "
            "checkpoint_path in a writable folder (or set LMTUTOR_CACHE_DIR for the book's runs)"
        ) from None
    free = shutil.disk_usage(path.parent).free
    if free < nbytes:
        raise CheckpointError(
            f"{path.parent} has {free / 1e6:.0f} MB free but a checkpoint of this run needs about "
            f"{nbytes / 1e6:.0f} MB; free some space or pass a checkpoint_path on another disk"
        )


def check_finite(losses: list[float], first_step: int, model: nn.Module, cfg, path, history: dict) -> None:
    """Stop a diverged run (NaN/inf loss; without losses: NaN/inf weights) before it overwrites a good checkpoint."""
    bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
    if bad is None and (losses or bool(torch.stack([torch.isfinite(p).all() for p in model.parameters()]).all())):
        return
    where = f"the loss is {losses[bad]} at step {first_step + bad}" if bad is not None else "the weights hold NaN/inf"
    kept = f" The last good checkpoint {path} was kept." if path is not None and Path(path).exists() else ""
    raise TrainingDiverged(
        f"training diverged: {where}. Try a lower learning rate (lr={cfg.lr:g} now, e.g. lr={cfg.lr / 10:g}), "
        f"gradient clipping (grad_clip={cfg.grad_clip} now; 1.0 is a safe value), and check the data "
        f"(token ids in range, no NaN).{kept}",
        history,
    )
