"""Today's blocks at equal wall-clock time: GPT-2's block vs RMSNorm, SwiGLU, RoPE and grouped-query attention.

    python bench/modern.py                                  # 6 variants x 2 seeds x 60 s (~14 minutes)
    python bench/modern.py --budget 3 --repeats 1 --out /tmp/x   # a quick smoke run

Every variant is a GPT of nanoGPT's CPU size (``BASE_MODEL``: 4 layers, 4 heads, width 128, context 64)
trained with batch 64 and lr 3e-3 (``BASE_TRAIN``), with one change, trained for the same number of
seconds on the same machine (the evaluation at step 0 counts,
the final one does not); the variants take turns within each repeat, and each repeat uses another
seed (weights and batches), so the spread over repeats shows how much of a difference is noise. The result goes to
``lmtutor/results/modern.json`` (shipped with the package; chapter 15 draws it).
"""

from __future__ import annotations

import argparse
import statistics

import torch
from common import ROOT, run_and_write, table  # bench/common.py, next to this script

from lmtutor.config import GPTConfig, TrainConfig
from lmtutor.recipes import shakespeare_data
from lmtutor.train import run_summary, train
from lmtutor.transformer import GPT

BASE_MODEL = {"block_size": 64, "n_layer": 4, "n_head": 4, "d_model": 128}  # GPT-2 blocks: LayerNorm, GELU
BASE_TRAIN = {"batch_size": 64, "lr": 3e-3, "warmup_steps": 100}  # AdamW (0.9, 0.99), wd 0.1, cosine to lr / 10
VARIANTS = {
    "GPT-2 block": {},
    "RMSNorm": {"norm": "rmsnorm"},
    "SwiGLU": {"mlp": "swiglu"},
    "RoPE": {"pos_encoding": "rope"},
    "GQA (2 of 4 kv heads)": {"n_kv_head": 2},
    "all four": {"norm": "rmsnorm", "mlp": "swiglu", "pos_encoding": "rope", "n_kv_head": 2},
}


def one_run(options: dict, budget: float, seed: int, data) -> dict:
    """Train the base GPT with ``options`` for ``budget`` seconds; return its final losses and speed."""
    tok, train_ids, val_ids = data
    torch.manual_seed(seed)
    model = GPT(GPTConfig(vocab_size=tok.vocab_size, **BASE_MODEL, **options))
    cfg = TrainConfig(**BASE_TRAIN, time_budget=budget, max_steps=100_000, eval_interval=100_000, eval_batches=20,
                      seed=seed)  # fmt: skip
    history = train(model, train_ids, val_ids, cfg, device="cpu")
    s = run_summary(history, cfg.batch_size * model.config.block_size)
    return {"val_loss": round(s["val_loss"], 4), "steps": s["steps"], "tokens_per_s": round(s["tokens_per_s"]),
            "parameters": model.num_parameters()}  # fmt: skip


def run(args: argparse.Namespace) -> dict:
    """Every variant once per repeat, in turn; per variant the losses, their spread and the steps taken."""
    data = shakespeare_data()
    runs = {name: [] for name in VARIANTS}
    for rep in range(args.repeats):
        for name, options in VARIANTS.items():
            runs[name].append(one_run(options, args.budget, 1337 + rep, data))
            print(f"repeat {rep + 1}: {name}: {runs[name][-1]}", flush=True)
    base = runs["GPT-2 block"]
    out = {}
    for name, rs in runs.items():
        gaps = [r["val_loss"] - b["val_loss"] for r, b in zip(rs, base, strict=True)]  # same seed, same turn
        out[name] = {
            "options": VARIANTS[name],
            "parameters": rs[0]["parameters"],
            "val_loss": [r["val_loss"] for r in rs],
            "mean_val_loss": round(statistics.mean(r["val_loss"] for r in rs), 4),
            "gap_to_gpt2": [round(g, 4) for g in gaps],
            "steps": [r["steps"] for r in rs],
            "tokens_per_s": round(statistics.mean(r["tokens_per_s"] for r in rs)),
        }
    settings = {"model": BASE_MODEL, "train": BASE_TRAIN, "budget_s": args.budget, "repeats": args.repeats}
    return {"settings": settings, "variants": out}


def report(result: dict) -> str:
    rows = [
        (name, f"{v['parameters']:,}", v["mean_val_loss"], " ".join(f"{g:+.3f}" for g in v["gap_to_gpt2"]),
         round(statistics.mean(v["steps"])), f"{v['tokens_per_s']:,}")
        for name, v in result["variants"].items()
    ]  # fmt: skip
    head = ["variant", "parameters", "val loss (mean)", "vs GPT-2 block, per seed", "steps", "tokens/s"]
    return f"{result['settings']['budget_s']:g} s per run on this machine\n" + table(rows, head)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--budget", type=float, default=60.0, help="seconds per run (the first evaluation included)")
    p.add_argument("--repeats", type=int, default=2, help="seeds per variant")
    p.add_argument("--out", default=str(ROOT / "lmtutor" / "results"), help="folder of modern.json")
    return p.parse_args(argv)


def main(argv=None) -> dict:
    return run_and_write("modern", parse_args, run, report, argv)


if __name__ == "__main__":
    main()
