"""Quality per time: validation loss on Tiny Shakespeare reached within a wall-clock budget.

    python bench/quality.py                          # the chapter's CPU preset, 135 s
    python bench/quality.py --budget 10 --preset nano --out /tmp/x   # a quick smoke run

This is the chapter's training run (``lmtutor.train.train`` with ``train_preset("cpu")``) with a
time budget: the cosine schedule is compressed to fit it, and training stops when it is spent.
The budget counts wall-clock time including the periodic evaluations. The loss curve (every
evaluation) goes into the JSON; the book's performance page draws it.
"""

from __future__ import annotations

import argparse

import torch
from common import run_and_write, table, train_preset_run  # bench/common.py, next to this script

from lmtutor.train import train_preset

# nanoGPT's documented CPU run of the same task (README, "I only have a macbook"):
# n_layer 4, n_head 4, n_embd 128, block 64, batch 12, 2000 iters, dropout 0 -> val loss 1.88 in ~3 min.
REFERENCE = {
    "val_loss": 1.88,
    "what": "nanoGPT's documented CPU configuration (4 layers, 4 heads, width 128, context 64, batch 12)",
    "time": "about 3 minutes",
    "source": "https://github.com/karpathy/nanoGPT#quick-start",
}


def run(args: argparse.Namespace) -> dict:
    """Train the preset under the budget; return the curve and the final losses."""
    if args.threads:
        torch.set_num_threads(args.threads)
    overrides = {"time_budget": args.budget}
    if args.eval_interval:
        overrides["eval_interval"] = args.eval_interval
    if args.max_steps:
        overrides["max_steps"] = args.max_steps
    cfg = train_preset(args.preset, **overrides)
    done = train_preset_run(args.preset, cfg, "cpu")
    model, summary, curve, wall = done["model"], done["summary"], done["curve"], done["wall_s"]
    return {
        "settings": {
            "preset": args.preset,
            "model": model.config.to_dict(),
            "parameters": model.num_parameters(),
            "train_config": {k: getattr(cfg, k) for k in ("max_steps", "batch_size", "lr", "warmup_steps")},
            "time_budget_s": args.budget,
            "eval_interval": cfg.eval_interval,
            "eval_batches": cfg.eval_batches,
            "threads": torch.get_num_threads(),
            "device": "cpu",
        },
        "final_val_loss": round(summary["val_loss"], 4),
        "final_train_loss": round(summary["train_loss"], 4),
        "steps": summary["steps"],
        "tokens_per_s": round(summary["tokens_per_s"]),
        "wall_s": round(wall, 1),
        "curve": curve,
        "target_val_loss": 1.80,
        "meets_target": summary["val_loss"] <= 1.80,
        "reference": REFERENCE,
    }


def report(result: dict) -> str:
    """The loss curve as a table plus the verdict."""
    c = result["curve"]
    rows = list(zip(c["eval_step"], c["elapsed"], c["train_loss"], c["val_loss"], strict=True))
    return "\n".join(
        [
            table(rows, ["step", "seconds", "train loss", "val loss"]),
            f"final validation loss {result['final_val_loss']} after {result['steps']} steps in "
            f"{result['wall_s']} s ({result['tokens_per_s']:,} tokens/s); target <= {result['target_val_loss']}: "
            f"{'met' if result['meets_target'] else 'NOT met'} (reference: {REFERENCE['val_loss']})",
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu", help="model and training preset (default cpu)")
    p.add_argument("--budget", type=float, default=135.0, help="wall-clock seconds (default 135)")
    p.add_argument("--max-steps", type=int, default=10_000, help="upper bound on steps; the budget ends the run")
    p.add_argument("--eval-interval", type=int, default=None, help="default: the preset's (250 for cpu)")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=None, help="folder for the JSON (default bench/results)")
    p.add_argument("--name", default="quality")
    args = p.parse_args(argv)
    if args.budget <= 0 or args.max_steps < 1 or (args.eval_interval is not None and args.eval_interval < 1):
        p.error("--budget must be > 0, --max-steps and --eval-interval >= 1")
    return args


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print the table, write the JSON."""
    return run_and_write("quality", parse_args, run, report, argv)


if __name__ == "__main__":
    main()
