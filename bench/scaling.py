"""A small scaling-law sweep: GPTs of several sizes trained on Tiny Shakespeare for the same compute.

    python bench/scaling.py                               # 6 sizes, ~4 minutes on 2 CPU cores
    python bench/scaling.py --tokens 20000 --sizes 2x32 2x48 3x64 --out /tmp/x   # a quick smoke run
    python bench/scaling.py --refit                       # fit the committed runs again, no training

Every model gets the same training compute C = 6·N·D (N: non-embedding parameters, D: tokens), the
compute that the reference size (4 layers, width 128: chapter 9's model) needs for ``--tokens`` tokens;
smaller models therefore see more tokens. Each run is chapter 9's recipe (AdamW, warmup, cosine to
lr/10) with its step count set by its share of C, evaluated about 12 times along the way. The
result goes to ``lmtutor/results/scaling.json`` (shipped with the package; chapter 15 draws it).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from common import ROOT, run_and_write, table  # bench/common.py, next to this script

from lmtutor.config import GPTConfig, TrainConfig
from lmtutor.recipes import shakespeare_data
from lmtutor.scaling import fit_power_law, frontier, non_embedding_parameters
from lmtutor.train import run_summary, train
from lmtutor.transformer import GPT

SIZES = ("2x48", "2x64", "3x96", "4x128", "5x160", "6x192")  # layers x width
REFERENCE = "4x128"
BATCH, BLOCK = 32, 64


def model_config(size: str, vocab_size: int) -> GPTConfig:
    """``"LxD"`` -> a GPT of L layers and width D with heads of 16 (D < 128) or 32 dimensions."""
    n_layer, d_model = (int(v) for v in size.split("x"))
    n_head = d_model // (32 if d_model >= 128 else 16)
    return GPTConfig(vocab_size=vocab_size, block_size=BLOCK, n_layer=n_layer, n_head=n_head, d_model=d_model)


def one_run(size: str, compute: float, data, seed: int) -> dict:
    """Train one size for ``compute`` FLOPs; return its parameters, curve (compute, val loss) and summary."""
    tok, train_ids, val_ids = data
    torch.manual_seed(seed)
    model = GPT(model_config(size, tok.vocab_size))
    n = non_embedding_parameters(model)
    steps = max(20, round(compute / (6 * n * BATCH * BLOCK)))
    cfg = TrainConfig(max_steps=steps, batch_size=BATCH, lr=3e-3, warmup_steps=max(1, min(100, steps // 10)),
                      eval_interval=max(1, steps // 12), eval_batches=20, seed=seed)  # fmt: skip
    t0 = time.perf_counter()
    history = train(model, train_ids, val_ids, cfg, device="cpu")
    s = run_summary(history, BATCH * BLOCK)
    flops = [6 * n * (step + 1) * BATCH * BLOCK for step in history["eval_step"]]
    return {
        "size": size,
        "non_embedding_parameters": n,
        "parameters": model.num_parameters(),
        "steps": steps,
        "tokens": steps * BATCH * BLOCK,
        "compute": 6 * n * steps * BATCH * BLOCK,
        "curve": {"compute": flops, "val_loss": [round(v, 4) for v in history["val_loss"]]},
        "val_loss": round(s["val_loss"], 4),
        "tokens_per_s": round(s["tokens_per_s"]),
        "wall_s": round(time.perf_counter() - t0, 1),
    }


def run(args: argparse.Namespace) -> dict:
    """Train every size for the same compute; fit the frontier and the final losses."""
    data = shakespeare_data()
    ref = GPT(model_config(REFERENCE, data[0].vocab_size))
    compute = 6 * non_embedding_parameters(ref) * args.tokens
    runs = []
    for size in args.sizes:
        runs.append(one_run(size, compute, data, args.seed))
        r = runs[-1]
        print(f"{size}: N={r['non_embedding_parameters']:,} D={r['tokens']:,} val {r['val_loss']} ({r['wall_s']} s)")
    settings = {"compute": compute, "reference": REFERENCE, "tokens_of_reference": args.tokens,
                "batch_size": BATCH, "block_size": BLOCK, "lr": 3e-3, "seed": args.seed}  # fmt: skip
    return {"settings": settings, "runs": runs, **fit_frontier(runs)}


def fit_frontier(runs: list[dict]) -> dict:
    """The lowest loss by each compute over all runs and a power law with an offset fitted to it.

    Each run's step-0 evaluation is left out: an untrained model's loss is about log V whatever its size.
    """
    c, loss = frontier([(r["curve"]["compute"][1:], r["curve"]["val_loss"][1:]) for r in runs])
    return {
        "frontier": {"compute": c.tolist(), "val_loss": [round(v, 4) for v in loss]},
        "frontier_fit": fit_power_law(c, loss, offset=True),
    }


def report(result: dict) -> str:
    rows = []
    for r in result["runs"]:
        n = r["non_embedding_parameters"]
        rows.append((r["size"], f"{n:,}", f"{r['tokens']:,}", f"{r['tokens'] / n:.1f}", r["val_loss"],
                     f"{r['tokens_per_s']:,}", r["wall_s"]))  # fmt: skip
    fit = result["frontier_fit"]
    head = ["size", "N (non-emb.)", "tokens D", "D/N", "val loss", "tokens/s", "wall s"]
    return (
        f"equal compute C = {result['settings']['compute']:.3g} FLOPs per model\n"
        + table(rows, head)
        + f"\nfrontier fit: L(C) = {fit['E']:.3f} + {fit['a']:.3g} * C^-{fit['alpha']:.3f}  (r2 {fit['r2']:.3f})"
    )


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, default=1_000_000, help="tokens of the 4x128 model (sets the compute)")
    p.add_argument("--sizes", nargs="+", default=list(SIZES), help="LAYERSxWIDTH, e.g. 2x48 4x128")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--out", default=str(ROOT / "lmtutor" / "results"), help="folder of scaling.json")
    p.add_argument("--refit", action="store_true", help="no training: fit the runs of OUT/scaling.json again")
    return p.parse_args(argv)


def refit(args: argparse.Namespace) -> dict:
    """The saved sweep with its frontier and power law computed again (after a change of the fit)."""
    saved = json.loads((Path(args.out) / "scaling.json").read_text(encoding="utf-8"))
    return {"settings": saved["settings"], "runs": saved["runs"], **fit_frontier(saved["runs"])}


def main(argv=None) -> dict:
    return run_and_write("scaling", parse_args, lambda a: refit(a) if a.refit else run(a), report, argv)


if __name__ == "__main__":
    main()
