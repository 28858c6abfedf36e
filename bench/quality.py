"""Quality per time: the chapter's recipe against nanoGPT's, for the same wall-clock time.

    python bench/quality.py                              # budgets 60, 135 and 300 s, 2 repeats (~40 min)
    python bench/quality.py --budgets 135 --repeats 1 --ladder-budget 0
    python bench/quality.py --budgets 3 --repeats 1 --preset nano --ladder-budget 0 --out /tmp/x   # smoke run

Two recipes train a character-level GPT on Tiny Shakespeare, each for the same wall-clock budget:

* **book**: the chapter-9 preset (``GPTConfig.preset`` and ``train_preset``, default ``cpu``);
* **nanoGPT**: nanoGPT's documented Shakespeare-char CPU recipe (4 layers, 4 heads, width 128,
  context 64, no biases, dropout 0; batch 12, lr 1e-3 with 100 warm-up steps and a cosine to 1e-4,
  AdamW betas (0.9, 0.99), weight decay 0.1, gradient clipping 1.0), run with ``lt.GPT``.

Both go through ``lmtutor.train.train`` with ``time_budget``: the cosine schedule is compressed to
end when the budget does, and the budget includes each recipe's own periodic evaluations. The runs
alternate (each repeat swaps which recipe goes first) so that a slower stretch of the machine hits
both. After each run one fixed evaluation, the same for both recipes and outside the budget
(100 batches of 64 windows of the validation split, seed 0), gives the loss that is compared.

The ladder goes from nanoGPT's recipe to the book's one change at a time at one budget, so that
each change is measured as an ablation in the same process. Throughput is reported as a fraction
of the matmul-bound ideal: the fp32 matmul rate measured in the same run divided by the model's
training FLOPs per token.
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import replace

import torch
from common import ROOT, flops_per_token, run_and_write, spread, table  # bench/common.py, next to this script

from lmtutor.config import GPTConfig, TrainConfig
from lmtutor.recipes import shakespeare_data
from lmtutor.train import estimate_loss, run_summary, train, train_preset
from lmtutor.transformer import GPT

BUDGETS = (60.0, 135.0, 300.0)
MARGIN = 0.05  # nats per character the book's recipe must be ahead by, at every budget
FINAL_EVAL = {"split": "val", "batch_size": 64, "n_batches": 100, "seed": 0}

# nanoGPT's config/train_shakespeare_char.py with the README's CPU overrides ("I only have a macbook").
NANOGPT_MODEL = {"block_size": 64, "n_layer": 4, "n_head": 4, "d_model": 128, "bias": False, "dropout": 0.0}
NANOGPT_TRAIN = TrainConfig(
    batch_size=12,
    lr=1e-3,
    min_lr=1e-4,
    warmup_steps=100,
    betas=(0.9, 0.99),
    weight_decay=0.1,
    grad_clip=1.0,
    eval_interval=250,
    eval_batches=20,
)
REFERENCE = {
    "val_loss": 1.88,
    "what": "nanoGPT's documented CPU run (2,000 iterations of batch 12, about 3 minutes)",
    "source": "https://github.com/karpathy/nanoGPT#quick-start",
}


def recipes(preset: str, vocab_size: int) -> dict[str, tuple[GPTConfig, TrainConfig]]:
    """The two recipes compared: ``{"nanoGPT": (model, train), "book": (model, train)}``."""
    nano = (GPTConfig(vocab_size=vocab_size, **NANOGPT_MODEL), NANOGPT_TRAIN)
    book = (GPTConfig.preset(preset, vocab_size=vocab_size), train_preset(preset))
    return {"nanoGPT": nano, "book": book}


def ladder(preset: str, vocab_size: int) -> list[tuple[str, GPTConfig, TrainConfig]]:
    """From nanoGPT's recipe to the book's, one change per rung (the ends are the two recipes)."""
    (nano_m, nano_t), (book_m, book_t) = recipes(preset, vocab_size).values()
    optim = replace(nano_t, batch_size=book_t.batch_size, lr=book_t.lr, min_lr=book_t.min_lr,
                    warmup_steps=book_t.warmup_steps)  # fmt: skip
    size = replace(nano_m, n_layer=book_m.n_layer, n_head=book_m.n_head, d_model=book_m.d_model, d_ff=book_m.d_ff)
    return [
        ("nanoGPT's recipe", nano_m, nano_t),
        (f"+ batch {book_t.batch_size}, lr {book_t.lr:g}", nano_m, optim),
        (f"+ size {book_m.n_layer} layers x {book_m.d_model} ({book_m.n_head} heads)", size, optim),
        ("+ biases, evaluation batches of the book = the book's recipe", book_m, book_t),
    ]


def matmul_gflops(n: int = 1024, repeats: int = 20) -> float:
    """The machine's fp32 matmul rate (best of ``repeats`` n x n products), GFLOP/s: the ideal's ceiling."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = float("inf")
    for _ in range(repeats + 2):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2 * n**3 / best / 1e9


def train_for(model_cfg: GPTConfig, train_cfg: TrainConfig, budget: float, seed: int, data, eval_batches: int) -> dict:
    """Train one recipe for ``budget`` seconds; its fixed final evaluation, summary and curve."""
    train_ids, val_ids = data
    torch.manual_seed(seed)
    model = GPT(model_cfg)
    cfg = replace(train_cfg, max_steps=1_000_000, time_budget=budget, seed=seed)
    t0 = time.perf_counter()
    history = train(model, train_ids, val_ids, cfg, device="cpu")
    wall = time.perf_counter() - t0
    e = FINAL_EVAL
    val = estimate_loss(model, {"val": val_ids}, model_cfg.block_size, e["batch_size"], eval_batches, "cpu", e["seed"])
    s = run_summary(history, cfg.batch_size * model_cfg.block_size)
    return {
        "val_loss": round(val["val"], 4),
        "steps": s["steps"],
        "tokens_per_s": round(s["tokens_per_s"]),
        "wall_s": round(wall, 1),
        "curve": {"elapsed": [round(t, 1) for t in history["elapsed"]], "val_loss": history["val_loss"]},
    }


def describe(model_cfg: GPTConfig, train_cfg: TrainConfig) -> dict:
    """What a recipe is, for the JSON."""
    n = GPT(model_cfg).num_parameters()
    keys = ("batch_size", "lr", "min_lr", "warmup_steps", "betas", "weight_decay", "grad_clip", "eval_interval",
            "eval_batches")  # fmt: skip
    return {
        "model": {k: getattr(model_cfg, k) for k in ("n_layer", "n_head", "d_model", "block_size", "bias", "dropout")},
        "train": {k: getattr(train_cfg, k) for k in keys},
        "parameters": n,
        "flops_per_token": flops_per_token(model_cfg, n),
    }


def summarize(runs: list[dict], budgets: list[float]) -> dict:
    """Per budget: both recipes' losses and the difference nanoGPT - book, with spreads over repeats."""
    out = {}
    for budget in budgets:
        at = {name: {r["repeat"]: r for r in runs if r["budget"] == budget and r["recipe"] == name}
              for name in ("nanoGPT", "book")}  # fmt: skip
        diffs = [at["nanoGPT"][k]["val_loss"] - at["book"][k]["val_loss"] for k in sorted(at["book"])]
        out[f"{budget:g}"] = {
            "nanoGPT": spread([r["val_loss"] for r in at["nanoGPT"].values()], 4),
            "book": spread([r["val_loss"] for r in at["book"].values()], 4),
            "difference": spread(diffs, 4),
            "book_ahead": min(diffs) >= MARGIN,
        }
    return out


def run(args: argparse.Namespace) -> dict:
    """Both recipes at every budget, alternating, then the ladder; losses, spreads and throughput."""
    if args.threads:
        torch.set_num_threads(args.threads)
    tok, train_ids, val_ids = shakespeare_data()
    data = (train_ids, val_ids)
    pair = recipes(args.preset, tok.vocab_size)
    gflops = [matmul_gflops()]
    runs = []
    for repeat in range(args.repeats):
        for budget in args.budgets:
            order = list(pair) if repeat % 2 == 0 else list(pair)[::-1]
            for name in order:
                r = train_for(*pair[name], budget, args.seed + repeat, data, args.eval_batches)
                runs.append({"recipe": name, "budget": budget, "repeat": repeat, **r})
                print(f"{name:8s} {budget:5g} s  repeat {repeat}: val {r['val_loss']:.4f}, {r['steps']:,} steps, "
                      f"{r['tokens_per_s']:,} tokens/s", flush=True)  # fmt: skip
    rungs = []
    if args.ladder_budget:
        rungs_todo = ladder(args.preset, tok.vocab_size)
        ends = {0: "nanoGPT", len(rungs_todo) - 1: "book"}  # the first and last rung are the two recipes
        for i, (label, m, t) in enumerate(rungs_todo):
            same = [r for r in runs if r["recipe"] == ends.get(i) and r["budget"] == args.ladder_budget]
            # the two ends were measured above (first repeat); the rungs between are trained here
            r = same[0] if same else train_for(m, t, args.ladder_budget, args.seed, data, args.eval_batches)
            rungs.append({"change": label, **{k: r[k] for k in ("val_loss", "steps", "tokens_per_s")}})
            print(f"ladder: {label}: val {r['val_loss']:.4f}", flush=True)
    gflops.append(matmul_gflops())
    matmul = max(gflops)
    described = {name: describe(*rc) for name, rc in pair.items()}
    throughput = {}
    for name in pair:
        fpt = described[name]["flops_per_token"]
        median = statistics.median_high(r["tokens_per_s"] for r in runs if r["recipe"] == name)
        throughput[name] = {"median_tokens_per_s": median, "ideal_tokens_per_s": round(matmul * 1e9 / fpt),
                            "fraction_of_ideal": round(median * fpt / (matmul * 1e9), 3)}  # fmt: skip
    per_budget = summarize(runs, args.budgets)
    return {
        "settings": {
            "preset": args.preset,
            "budgets_s": args.budgets,
            "repeats": args.repeats,
            "seed": args.seed,
            "final_eval": {**FINAL_EVAL, "n_batches": args.eval_batches},
            "margin": MARGIN,
            "recipes": described,
            "threads": torch.get_num_threads(),
            "device": "cpu",
            "ladder_budget_s": args.ladder_budget or None,
        },
        "runs": runs,
        "budgets": per_budget,
        "book_ahead_everywhere": all(b["book_ahead"] for b in per_budget.values()),
        "ladder": rungs,
        "matmul_gflops": [round(g, 1) for g in gflops],
        "throughput": throughput,
        "reference": REFERENCE,
    }


def report(result: dict) -> str:
    """The per-budget table, the ladder and the throughput, plus the verdict."""
    rows = [
        [f"{b} s", v["nanoGPT"]["median"], v["book"]["median"],
         f"{v['difference']['median']:+.4f} ({v['difference']['min']:+.4f} to {v['difference']['max']:+.4f})",
         "yes" if v["book_ahead"] else "NO"]
        for b, v in result["budgets"].items()
    ]  # fmt: skip
    lines = [table(rows, ["budget", "nanoGPT val", "book val", "nanoGPT - book (range)", f"ahead by >= {MARGIN}"])]
    if result["ladder"]:
        lines.append(table([[r["change"], r["val_loss"], f"{r['tokens_per_s']:,}", f"{r['steps']:,}"]
                            for r in result["ladder"]], ["ladder", "val", "tokens/s", "steps"]))  # fmt: skip
    for name, t in result["throughput"].items():
        share, ideal = 100 * t["fraction_of_ideal"], t["ideal_tokens_per_s"]
        lines.append(f"{name}: {t['median_tokens_per_s']:,} tokens/s = {share:.0f} % of the matmul-bound {ideal:,} "
                     f"({max(result['matmul_gflops'])} GFLOP/s fp32)")  # fmt: skip
    verdict = "ahead" if result["book_ahead_everywhere"] else "NOT ahead"
    lines.append(f"book recipe {verdict} by >= {MARGIN} nats at every budget")
    return "\n\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu", help="the book's model and training preset (default cpu)")
    p.add_argument("--budgets", type=float, nargs="+", default=list(BUDGETS), help="wall-clock seconds per run")
    p.add_argument("--repeats", type=int, default=2, help="runs per recipe and budget (seeds 1337, 1338, ...)")
    p.add_argument("--ladder-budget", type=float, default=135.0, help="budget of the ablation ladder; 0 skips it")
    p.add_argument("--eval-batches", type=int, default=FINAL_EVAL["n_batches"], help="batches of the final evaluation")
    p.add_argument("--seed", type=int, default=1337)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=str(ROOT / "lmtutor" / "results"), help="folder of quality.json (chapter 9)")
    p.add_argument("--name", default="quality")
    args = p.parse_args(argv)
    if min(args.budgets) <= 0 or args.repeats < 1 or args.eval_batches < 1 or args.ladder_budget < 0:
        p.error("--budgets must be > 0, --repeats and --eval-batches >= 1, --ladder-budget >= 0")
    return args


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print the tables, write the JSON."""
    return run_and_write("quality", parse_args, run, report, argv)


if __name__ == "__main__":
    main()
