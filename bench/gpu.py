"""The GPU preset on a CUDA GPU: tokens/s, model FLOPs utilization and validation loss after 3 minutes.

    python bench/gpu.py                        # preset "gpu", bf16 autocast, torch.compile, 180 s
    python bench/gpu.py --budget 60 --no-compile
    python bench/gpu.py --peak-tflops 312      # a GPU missing from the table below

This is the chapter's training cell as it runs on CUDA (``train_preset("gpu")``: 6 layers, 6 heads,
width 384, context 256, batch 64, dropout 0.2). The budget counts wall-clock time from the first
step, so compilation is part of it; steady-state tokens/s are the median over the evaluation
intervals after the first one. Model FLOPs per token are 6·N + 12·L·D·T (N parameters without
the position table, L layers, D width, T context; Chowdhery et al. 2022, appendix B), and
MFU = FLOPs per token x tokens/s / the GPU's peak dense bf16 FLOP/s.

Without a CUDA device the script says so and exits with status 2, writing nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys

import torch
from common import flops_per_token, machine_info, table, train_preset_run, write_result  # bench/common.py

# Peak dense (no sparsity) bf16 tensor-core throughput, TFLOP/s, from NVIDIA's data sheets.
# Order matters: the first substring found in the device name wins ("H100 PCIe" before "H100").
PEAK_BF16_TFLOPS = [
    ("H100 PCIe", 756.0),
    ("H100", 989.0),  # SXM
    ("H200", 989.0),
    ("GH200", 989.0),
    ("A100", 312.0),
    ("L40S", 362.0),
    ("L4", 121.0),
    ("A10", 125.0),
]

REFERENCE = {
    "val_loss": 1.4697,
    "what": "nanoGPT's train_shakespeare_char config, best validation loss, about 3 minutes on one A100",
    "source": "https://github.com/karpathy/nanoGPT#quick-start",
}


def peak_tflops(device_name: str, override: float | None = None) -> float | None:
    """Peak dense bf16 TFLOP/s of a GPU by name (None if unknown and not given)."""
    if override:
        return override
    for key, value in PEAK_BF16_TFLOPS:
        if key.lower() in device_name.lower():
            return value
    return None


def run(args: argparse.Namespace) -> dict:
    """Train the GPU preset under the budget and derive throughput and MFU."""
    from lmtutor.device import autocast_dtype
    from lmtutor.train import train_preset

    device = torch.device("cuda")
    name = torch.cuda.get_device_name(device)
    cfg = train_preset(args.preset, time_budget=args.budget, compile=not args.no_compile, max_steps=args.max_steps)
    done = train_preset_run(args.preset, cfg, device)
    model, history, summary, curve = done["model"], done["history"], done["summary"], done["curve"]
    steady = history["tokens_per_s"][1:] or history["tokens_per_s"]
    tps = statistics.median(steady)
    fpt = flops_per_token(model.config, model.num_parameters())
    peak = peak_tflops(name, args.peak_tflops)
    return {
        "settings": {
            "preset": args.preset,
            "model": model.config.to_dict(),
            "parameters": model.num_parameters(),
            "batch_size": cfg.batch_size,
            "time_budget_s": args.budget,
            "compile": cfg.compile,
            "precision": "bf16 autocast" if autocast_dtype(device) is not None else "fp32",
            "device": name,
        },
        "final_val_loss": round(summary["val_loss"], 4),
        "best_val_loss": round(min(history["val_loss"]), 4),
        "steps": summary["steps"],
        "tokens_per_s": {"median_steady": round(tps), "interval_values": [round(v) for v in steady]},
        "flops_per_token": fpt,
        "peak_bf16_tflops": peak,
        "mfu": round(fpt * tps / (peak * 1e12), 4) if peak else None,
        "curve": curve,
        "reference": REFERENCE,
    }


def report(result: dict) -> str:
    """Human-readable summary."""
    mfu = f"{100 * result['mfu']:.1f} %" if result["mfu"] is not None else "unknown peak (use --peak-tflops)"
    rows = [
        ["device", result["settings"]["device"]],
        ["tokens/s (median of steady intervals)", f"{result['tokens_per_s']['median_steady']:,}"],
        ["model FLOPs per token", f"{result['flops_per_token']:.3g}"],
        ["MFU", mfu],
        ["validation loss at the end", result["final_val_loss"]],
        ["best validation loss", result["best_val_loss"]],
        ["reference (nanoGPT, A100, ~3 min)", REFERENCE["val_loss"]],
    ]
    return table(rows, ["quantity", "value"])


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="gpu")
    p.add_argument("--budget", type=float, default=180.0, help="wall-clock seconds (default 180 = 3 min)")
    p.add_argument("--max-steps", type=int, default=5000, help="nanoGPT's 5000 iterations; the budget may end earlier")
    p.add_argument("--no-compile", action="store_true", help="run eagerly (no torch.compile)")
    p.add_argument("--peak-tflops", type=float, default=None, help="the GPU's peak dense bf16 TFLOP/s for MFU")
    p.add_argument("--out", default=None, help="folder for the JSON (default bench/results)")
    p.add_argument("--name", default="gpu")
    args = p.parse_args(argv)
    if args.budget <= 0 or args.max_steps < 1:
        p.error("--budget must be > 0 and --max-steps >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run on CUDA, or explain why not."""
    args = parse_args(argv)
    if not torch.cuda.is_available():
        print(
            "bench/gpu.py needs a CUDA GPU and this machine has none (torch.cuda.is_available() is False); "
            "nothing was measured and no JSON was written. The performance page reports the GPU figures "
            "as not measured.",
            file=sys.stderr,
        )
        return 2
    machine = machine_info()  # the load at the start of the measurement
    result = run(args)
    print(report(result))
    print(f"wrote {write_result(args.name, result, args.out, machine)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
