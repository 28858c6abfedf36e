"""``lmtutor train``: the chapter-9 run from a terminal, on one process or many with ``torchrun`` (chapter 15).

    lmtutor train --preset cpu                                   # one process, like chapter 9
    torchrun --nproc-per-node 2 -m lmtutor train --preset cpu    # two processes (gloo on CPU, NCCL on GPUs)
    lmtutor train --preset nano --model n_layer=3 --train max_steps=200 time_budget=60

Across machines, start the same command on each with torchrun's rendezvous options (PyTorch's torchrun
documentation): torchrun --nnodes 2 --nproc-per-node 4 --rdzv-backend c10d --rdzv-endpoint HOST:29500
--rdzv-id run1 -m lmtutor train ... (the checkpoint folder must be shared for --resume).

The run writes ``checkpoint.pt`` (atomically, at every evaluation and at the end) and ``history.json``
into ``--out``; ``--resume`` continues an interrupted run from its checkpoint.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import json
from pathlib import Path

import torch

from . import distributed as _dist
from .callbacks import PrintLosses
from .config import GPTConfig, TrainConfig, train_preset
from .data import load_shakespeare
from .storage import atomic_file
from .utils import did_you_mean

__all__ = ["add_train_parser", "parse_overrides", "train_command"]


def parse_overrides(pairs: list[str], cls: type, what: str) -> dict:
    """``["lr=1e-3", "norm=rmsnorm"]`` -> ``{"lr": 0.001, "norm": "rmsnorm"}``, checked against ``cls``'s fields."""
    fields = {f.name for f in dataclasses.fields(cls)} - {"extra"}
    out = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} settings are KEY=VALUE, got {pair!r}; e.g. {what} lr=1e-3")
        if key not in fields:
            hint = did_you_mean(key, fields)
            raise ValueError(
                f"{what}: {cls.__name__} has no setting {key!r}.{hint} Settings: {', '.join(sorted(fields))}"
            )
        try:
            out[key] = ast.literal_eval(text)  # numbers, True/False, None, tuples
        except (ValueError, SyntaxError):
            out[key] = text  # a word such as rmsnorm
    return out


def _text(path: Path | None) -> str:
    """Tiny Shakespeare, or the UTF-8 text file at ``path``."""
    if path is None:
        return load_shakespeare()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"--data {path}: cannot read it as UTF-8 text ({type(err).__name__})") from None


def _configs(args: argparse.Namespace, vocab_size: int) -> tuple[GPTConfig, TrainConfig]:
    model_overrides = parse_overrides(args.model or [], GPTConfig, "--model")
    model = GPTConfig.preset(args.preset, vocab_size=vocab_size, **model_overrides)
    cfg = train_preset(args.preset, **parse_overrides(args.train or [], TrainConfig, "--train"))
    if cfg.checkpoint_interval is None:
        cfg = dataclasses.replace(cfg, checkpoint_interval=cfg.eval_interval)
    return model, cfg


def train_command(args: argparse.Namespace) -> int:
    """Run ``lmtutor train`` in this process (one of N under torchrun); rank 0 prints and writes."""
    from .recipes import char_data, default_preset
    from .train import run_summary, train
    from .transformer import GPT

    me, device = _dist.init(args.device, timeout=args.dist_timeout)
    finished = False
    try:
        args.preset = args.preset or default_preset(device)
        tok, train_ids, val_ids = char_data(_text(args.data))  # character ids, 90/10 split
        model_cfg, cfg = _configs(args, tok.vocab_size)
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        model = GPT(model_cfg)
        out = Path(args.out or f"runs/{args.preset}")
        if me.main:
            print(
                f"lmtutor train: preset {args.preset}, {model.num_parameters():,} parameters, {me.size} process(es) "
                f"on {device.type}, batch {cfg.batch_size} ({cfg.batch_size // me.size} per process); out: {out}"
            )
        callbacks = [] if args.quiet else [PrintLosses()]
        history = train(model, train_ids, val_ids, cfg, device, callbacks, out / "checkpoint.pt", resume=args.resume)
        if me.main:
            with atomic_file(out / "history.json", "w", encoding="utf-8") as f:
                json.dump({"world_size": me.size, "history": history}, f)
            s = run_summary(history, cfg.batch_size * model_cfg.block_size)
            print(
                f"done: {s['steps']} steps, val loss {s['val_loss']:.4f}, {s['tokens_per_s']:,.0f} tokens/s "
                f"({s['train_seconds']:.1f} s training); wrote {out / 'checkpoint.pt'}, {out / 'history.json'}"
            )
        finished = True
    finally:
        _dist.shutdown(wait=finished)
    return 0


def add_train_parser(sub) -> None:
    """The ``train`` subcommand of ``lmtutor``."""
    t = sub.add_parser(
        "train",
        help="train the chapter-9 GPT (also under torchrun: several processes, DDP)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    t.add_argument("--preset", help="nano, cpu or gpu (default: the chapter's choice for this device)")
    pairs = {"nargs": "+", "action": "extend", "metavar": "KEY=VALUE"}  # repeatable; a later KEY wins
    t.add_argument("--model", **pairs, help="GPTConfig settings, e.g. n_layer=6 norm=rmsnorm")
    t.add_argument("--train", **pairs, help="TrainConfig settings, e.g. lr=1e-3 time_budget=60")
    t.add_argument("--data", type=Path, help="a UTF-8 text file to train on (default: Tiny Shakespeare)")
    t.add_argument("--out", type=Path, help="folder for checkpoint.pt and history.json (default: runs/PRESET)")
    t.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt if it exists")
    t.add_argument("--device", help="cpu, cuda, mps (default: the best available)")
    t.add_argument("--dist-timeout", type=float, default=120.0, help="seconds to wait for the other processes")
    t.add_argument("--quiet", action="store_true", help="no line per evaluation")
    t.set_defaults(run=train_command)
