"""What each choice of the training path is worth: the lmtutor step with one choice undone at a time.

    python bench/ablations.py                    # cpu preset and its batch (32), 8 rotating repeats
    python bench/ablations.py --repeats 2 --steps 2 --out /tmp/x   # a quick smoke run

"before" is the step with the choice undone, "after" the step as ``lmtutor.train`` runs it; all
variants start from the same weights and are timed in rotating order in one process, so the
ratios hold even on a busy machine. Variants:

- attention: ``scaled_dot_product_attention``'s fused kernel vs its math backend (the formula
  softmax(QKᵀ/√d)V with the T x T matrix materialised, as a from-scratch implementation does);
- optimizer: AdamW's fused kernel vs ``foreach`` (one kernel per op over all tensors) vs the
  for-loop over tensors;
- gradients: ``zero_grad(set_to_none=True)`` vs writing zeros into the old gradient tensors;
- precision: fp32 vs bf16 autocast on the CPU (fast only where the CPU has AMX/AVX512-BF16).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics

import torch
from common import preset_batch, run_and_write, spread, table  # bench/common.py, next to this script
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel
from train_step import batches, tokens_per_s

from lmtutor.train import TrainConfig, configure_optimizer
from lmtutor.transformer import GPT, GPTConfig

VARIANTS = {
    "lmtutor (fused SDPA, fused AdamW, set_to_none)": {},
    "math attention (T x T matrix materialised)": {"attention": SDPBackend.MATH},
    "foreach AdamW": {"optimizer": "foreach"},
    "for-loop AdamW": {"optimizer": "loop"},
    "zero_grad writes zeros": {"set_to_none": False},
    "bf16 autocast on CPU": {"bf16": True},
}
BASELINE = next(iter(VARIANTS))


def make_variant(preset: str, attention=None, optimizer: str = "fused", set_to_none: bool = True, bf16: bool = False):
    """A training step of a fresh seeded GPT with the given choices."""
    torch.manual_seed(0)
    model = GPT(GPTConfig.preset(preset, vocab_size=65)).train()
    opt = configure_optimizer(model, TrainConfig(lr=3e-3), "cpu")
    if optimizer != "fused":  # same groups and settings, other implementation
        groups = [{k: v for k, v in g.items() if k in ("params", "weight_decay")} for g in opt.param_groups]
        opt = torch.optim.AdamW(groups, lr=3e-3, betas=(0.9, 0.99), foreach=optimizer == "foreach", fused=False)
    params = list(model.parameters())

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        kernel = sdpa_kernel(attention) if attention is not None else contextlib.nullcontext()
        cast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with kernel, cast:
            _, loss = model(x, y)
        opt.zero_grad(set_to_none=set_to_none)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.detach()

    return step


def run(args: argparse.Namespace) -> dict:
    """Time every variant in rotating order; ratios to the lmtutor step."""
    if args.threads:
        torch.set_num_threads(args.threads)
    steps = {name: make_variant(args.preset, **knobs) for name, knobs in VARIANTS.items()}
    data = batches(args.steps, args.batch_size, GPTConfig.preset(args.preset).block_size)
    for step in steps.values():
        tokens_per_s(step, data[: args.warmup] or data[:1])
    names, runs = list(steps), {name: [] for name in steps}
    for r in range(args.repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            runs[name].append(tokens_per_s(steps[name], data))
    base = runs[BASELINE]
    rows = {}
    for name, vals in runs.items():
        pair = [b / v for b, v in zip(base, vals, strict=True)]  # how much faster lmtutor's choice is
        rows[name] = {
            "tokens_per_s": spread(vals, 0),
            "speedup_of_choice": round(statistics.median(base) / statistics.median(vals), 3),
            "pair_speedups": spread(pair, 3),
        }
    return {
        "settings": {
            "preset": args.preset,
            "batch_size": args.batch_size,
            "steps_per_repeat": args.steps,
            "repeats": args.repeats,
            "threads": torch.get_num_threads(),
        },
        "baseline": BASELINE,
        "variants": rows,
    }


def report(result: dict) -> str:
    """One row per variant: its tokens/s and how much faster the lmtutor choice is."""
    rows = [
        [
            name,
            v["tokens_per_s"]["median"],
            v["speedup_of_choice"],
            f"{v['pair_speedups']['min']}-{v['pair_speedups']['max']}",
        ]
        for name, v in result["variants"].items()
    ]
    return table(rows, ["variant (before)", "median tok/s", "lmtutor / variant", "per-repeat range"])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--batch-size", type=int, default=None, help="default: the preset's training batch")
    p.add_argument("--repeats", type=int, default=8)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=None, help="folder for the JSON (default bench/results)")
    p.add_argument("--name", default="ablations")
    args = p.parse_args(argv)
    if args.batch_size is None:
        args.batch_size = preset_batch(args.preset)
    if min(args.batch_size, args.repeats, args.steps) < 1 or args.warmup < 0:
        p.error("--batch-size, --repeats and --steps must be >= 1 and --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> dict:
    """Run, print, write the JSON."""
    return run_and_write("ablations", parse_args, run, report, argv)


if __name__ == "__main__":
    main()
