"""Training-step throughput: the lmtutor GPT vs 🤗 ``GPT2LMHeadModel`` of the same size.

    python bench/train_step.py                      # cpu preset and its batch (32), 10 alternating repeats
    python bench/train_step.py --profile            # also: where the time goes (torch.profiler)
    python bench/train_step.py --repeats 3 --steps 3 --warmup 1 --out /tmp/x   # a quick smoke run

Both models get the same weights (copied with ``lmtutor.hf.to_hf_gpt2``), the same batches, the
same dtype (fp32), the same threads and the same optimizer construction (``configure_optimizer``
of lmtutor: AdamW, weight decay on matrices only, fused kernel), dropout 0 and gradient clipping
at 1.0. One step is forward + loss + backward + clipping + optimizer step. The two are timed
alternately in one process, in rotating order, so that a busy machine slows all of them alike;
the ratio of medians and the per-repeat ratios are reported. Besides GPT-2's own configuration
(``gelu_new``, a Python formula) a 🤗 variant with the one-kernel ``gelu_pytorch_tanh`` is timed,
so that the comparison does not rest on one slow activation.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from common import preset_batch, run_and_write, spread, table  # bench/common.py, next to this script
from torch import nn

from lmtutor.hf import to_hf_gpt2
from lmtutor.train import TrainConfig, configure_optimizer, train_step
from lmtutor.transformer import GPT, GPTConfig

Step = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


HF_GELU_VARIANT = "transformers, gelu_pytorch_tanh"


def make_models(preset: str, vocab_size: int, block_size: int | None = None) -> dict[str, nn.Module]:
    """The lmtutor GPT and 🤗 GPT-2 models (default sdpa attention) holding the same weights, in train mode.

    "transformers" is GPT-2's own configuration (activation ``gelu_new``, written out in Python);
    the variant uses the fused ``gelu_pytorch_tanh`` kernel, the same function computed in one op.
    """
    from transformers import GPT2LMHeadModel

    from lmtutor.hf import gpt2_config

    overrides = {"vocab_size": vocab_size, "dropout": 0.0}
    if block_size:
        overrides["block_size"] = block_size
    torch.manual_seed(0)
    ours = GPT(GPTConfig.preset(preset, **overrides))
    theirs = to_hf_gpt2(ours, attn_implementation="sdpa")
    config = gpt2_config(ours.config)
    config.activation_function, config._attn_implementation = "gelu_pytorch_tanh", "sdpa"
    variant = GPT2LMHeadModel(config)
    variant.load_state_dict(theirs.state_dict())
    return {"lmtutor": ours.train(), "transformers": theirs.train(), HF_GELU_VARIANT: variant.train()}


def forward_of(name: str, model: nn.Module) -> Callable:
    """``forward(x, y) -> (logits, loss)`` for either library."""
    if name == "lmtutor":
        return model
    # y is already shifted: shift_labels stops 🤗 from shifting it a second time
    return lambda x, y: (None, model(input_ids=x, labels=y, shift_labels=y).loss)


def make_step(name: str, model: nn.Module, lr: float = 3e-3, bf16: bool = False) -> Step:
    """One optimisation step of ``model`` through ``lmtutor.train.train_step`` (the loop's own step)."""
    optimizer = configure_optimizer(model, TrainConfig(lr=lr), torch.device("cpu"))
    forward = forward_of(name, model)
    if bf16:  # CPU autocast: matrix products in bfloat16 (fast only on CPUs with AMX/AVX512-BF16)
        fp32_forward = forward

        def forward(x, y):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return fp32_forward(x, y)

    return lambda x, y: train_step(model, optimizer, x, y, grad_clip=1.0, forward=forward)


def batches(n: int, batch_size: int, block_size: int, seed: int = 0) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``n`` batches of Tiny Shakespeare windows (made before timing: data loading is not measured)."""
    from lmtutor.data import get_batch
    from lmtutor.recipes import shakespeare_data

    _, train_ids, _ = shakespeare_data()
    gen = torch.Generator().manual_seed(seed)
    pairs = (get_batch(train_ids, block_size, batch_size, gen) for _ in range(n))
    return [(x.contiguous(), y.contiguous()) for x, y in pairs]  # 🤗's loss needs contiguous labels


def tokens_per_s(step: Step, data: list) -> float:
    """Run ``step`` over ``data``; tokens per second of wall time."""
    t0 = time.perf_counter()
    for x, y in data:
        loss = step(x, y)
    loss.item()  # wait for the last step (a no-op on CPU, a sync on GPU)
    return sum(x.numel() for x, _ in data) / (time.perf_counter() - t0)


def profile(step: Step, data: list, top: int = 12) -> list[dict]:
    """Operators with the most self CPU time per step (torch.profiler)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for x, y in data:
            step(x, y)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events) or 1.0
    return [
        {
            "op": e.key,
            "ms_per_step": round(e.self_cpu_time_total / 1000 / len(data), 3),
            "share": round(e.self_cpu_time_total / total, 3),
            "calls_per_step": round(e.count / len(data), 1),
        }
        for e in events[:top]
    ]


def check_same_computation(models: dict[str, nn.Module], x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Loss of each model on one batch: equal losses show that they compute the same function."""
    with torch.no_grad():
        losses = {name: forward_of(name, m)(x, y)[1].item() for name, m in models.items()}
    if max(losses.values()) - min(losses.values()) > 1e-4:
        raise RuntimeError(f"the models disagree before training: {losses}")
    return {k: round(v, 6) for k, v in losses.items()}


def alternate(steps: dict[str, Step], data: list, repeats: int) -> dict[str, list[float]]:
    """Tokens/s of every step function, ``repeats`` times, in rotating order (a busy machine hits all alike)."""
    names, runs = list(steps), {name: [] for name in steps}
    for r in range(repeats):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            runs[name].append(tokens_per_s(steps[name], data))
    return runs


def compare(runs: dict[str, list[float]], ours: str, theirs: str) -> dict:
    """Ratio of medians and per-repeat ratios of ``ours`` over ``theirs``."""
    pair = [a / b for a, b in zip(runs[ours], runs[theirs], strict=True)]
    return {
        "ratio_of_medians": round(statistics.median(runs[ours]) / statistics.median(runs[theirs]), 3),
        "pair_ratios": [round(p, 3) for p in pair],
        "pair_ratio_spread": spread(pair, 3),
    }


def settings(args: argparse.Namespace, models: dict[str, nn.Module]) -> dict:
    """Everything that defines the measurement, for the JSON."""
    ours = models["lmtutor"]
    return {
        "preset": args.preset,
        "model": ours.config.to_dict(),
        "parameters": ours.num_parameters(),
        "batch_size": args.batch_size,
        "block_size": ours.config.block_size,
        "tokens_per_step": args.batch_size * ours.config.block_size,
        "steps_per_repeat": args.steps,
        "repeats": args.repeats,
        "warmup_steps": args.warmup,
        "threads": torch.get_num_threads(),
        "dtype": "float32",
        "optimizer": "lmtutor.train.configure_optimizer: AdamW(fused=True), lr 3e-3, betas (0.9, 0.99), "
        "weight decay 0.1 on matrices only",
        "step": "lmtutor.train.train_step: forward + cross-entropy + backward + clip_grad_norm_(1.0) + AdamW step",
        "hf_attention": models["transformers"].config._attn_implementation,
        "hf_loss": "GPT2LMHeadModel(input_ids, labels=y, shift_labels=y).loss (no second shift)",
        "data": "Tiny Shakespeare windows, made before timing",
    }


def run(args: argparse.Namespace) -> dict:
    """Warm up every model, then time them alternately; return the result dict."""
    if args.threads:
        torch.set_num_threads(args.threads)
    models = make_models(args.preset, 65, args.block_size)
    data = batches(args.steps, args.batch_size, models["lmtutor"].config.block_size)
    initial = check_same_computation(models, *data[0])
    steps = {name: make_step(name, m) for name, m in models.items()}
    if args.bf16:
        twin = make_models(args.preset, 65, args.block_size)["lmtutor"]  # own copy: its weights drift apart
        steps["lmtutor, bf16 autocast"] = make_step("lmtutor", twin, bf16=True)
    for step in steps.values():
        tokens_per_s(step, data[: args.warmup] or data[:1])
    runs = alternate(steps, data, args.repeats)
    result = {
        "settings": settings(args, models),
        "initial_loss": initial,
        "tokens_per_s": {name: [round(v) for v in vals] for name, vals in runs.items()},
        "tokens_per_s_spread": {name: spread(vals, 0) for name, vals in runs.items()},
        **compare(runs, "lmtutor", "transformers"),
        "vs_gelu_variant": compare(runs, "lmtutor", HF_GELU_VARIANT),
    }
    if args.profile:
        result["profile"] = {name: profile(steps[name], data[: args.profile_steps]) for name in models}
    return result


def report(result: dict) -> str:
    """The human-readable summary printed by the script."""
    rows = [[name, s["min"], s["median"], s["max"], s["n"]] for name, s in result["tokens_per_s_spread"].items()]
    lines = [table(rows, ["model", "min tok/s", "median tok/s", "max tok/s", "repeats"])]
    for label, c in (("transformers", result), (HF_GELU_VARIANT, result["vs_gelu_variant"])):
        p = c["pair_ratio_spread"]
        lines.append(
            f"lmtutor / {label}: ratio of medians {c['ratio_of_medians']}, "
            f"per-repeat ratios min {p['min']} median {p['median']} max {p['max']}"
        )
    for name, ops in result.get("profile", {}).items():
        lines.append(f"\nprofile of {name} (self CPU time per step):")
        lines.append(table([[o["op"], o["ms_per_step"], o["share"], o["calls_per_step"]] for o in ops],
                           ["op", "ms/step", "share", "calls/step"]))  # fmt: skip
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (defaults: the chapter's CPU preset and batch)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu", help="model preset of GPTConfig (default cpu)")
    p.add_argument("--batch-size", type=int, default=None, help="default: the preset's training batch")
    p.add_argument("--block-size", type=int, default=None, help="override the preset's context length")
    p.add_argument("--repeats", type=int, default=10, help="timed repeats per model, alternating")
    p.add_argument("--steps", type=int, default=10, help="optimizer steps per timed repeat")
    p.add_argument("--warmup", type=int, default=5, help="untimed steps per model first")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--bf16", action="store_true", help="also time lmtutor with CPU bf16 autocast (not the same dtype)")
    p.add_argument("--profile", action="store_true", help="also profile both models with torch.profiler")
    p.add_argument("--profile-steps", type=int, default=5)
    p.add_argument("--out", default=None, help="folder for the JSON (default bench/results)")
    p.add_argument("--name", default="train_step", help="JSON file name (without .json)")
    args = p.parse_args(argv)
    if args.batch_size is None:
        args.batch_size = preset_batch(args.preset)
    if min(args.batch_size, args.repeats, args.steps) < 1 or args.warmup < 0:
        p.error("--batch-size, --repeats and --steps must be >= 1 and --warmup >= 0")
    return args


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print the table, write the JSON."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    return run_and_write("train_step", parse_args, run, report, argv)


if __name__ == "__main__":
    main()
