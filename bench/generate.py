"""Generation speed with and without the KV cache (greedy decoding, identical tokens).

    python bench/generate.py                     # 256 new tokens, 8 alternating repeats
    python bench/generate.py --repeats 2 --new-tokens 32 --out /tmp/x   # a quick smoke run

The model is the chapter's CPU preset with its context raised to 512 positions so that prompt
plus 256 new tokens fit without cropping; the prompt is the first line of Tiny Shakespeare.
Without the cache every new token recomputes keys and values of the whole prefix; with it only
the newest position is computed. Both ways must give the same tokens, which is checked.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import run_and_write, spread, table  # bench/common.py, next to this script

from lmtutor.transformer import GPT, GPTConfig


def make_model(preset: str = "cpu", block_size: int = 512, vocab_size: int = 65, seed: int = 0) -> GPT:
    """A GPT of the given preset with a longer context, seeded, in eval mode."""
    torch.manual_seed(seed)
    return GPT(GPTConfig.preset(preset, vocab_size=vocab_size, block_size=block_size)).eval()


def prompt_ids(n_chars: int) -> torch.Tensor:
    """The first ``n_chars`` characters of Tiny Shakespeare as ids, shape (1, n_chars)."""
    from lmtutor.recipes import shakespeare_data

    _, train_ids, _ = shakespeare_data()
    return train_ids[:n_chars][None].clone()


def timed_generate(model: GPT, prompt: torch.Tensor, new_tokens: int, use_cache: bool) -> tuple[torch.Tensor, float]:
    """Greedy generation; returns the tokens and new tokens per second."""
    t0 = time.perf_counter()
    out = model.generate(prompt, new_tokens, do_sample=False, use_cache=use_cache)
    return out, new_tokens * prompt.shape[0] / (time.perf_counter() - t0)


def run(args: argparse.Namespace) -> dict:
    """Warm up, check identical outputs, time both ways alternately."""
    if args.threads:
        torch.set_num_threads(args.threads)
    model = make_model(args.preset, args.block_size)
    prompt = prompt_ids(args.prompt_chars).repeat(args.batch_size, 1)
    if prompt.shape[1] + args.new_tokens > model.config.block_size:
        raise SystemExit(f"prompt + new tokens exceed block_size={model.config.block_size}; raise --block-size")
    timed_generate(model, prompt, min(args.new_tokens, 16), True)  # warm-up
    timed_generate(model, prompt, min(args.new_tokens, 16), False)
    runs = {"with cache": [], "without cache": []}
    outputs = {}
    for r in range(args.repeats):
        for label in list(runs) if r % 2 == 0 else list(runs)[::-1]:
            out, tps = timed_generate(model, prompt, args.new_tokens, label == "with cache")
            runs[label].append(tps)
            outputs.setdefault(label, out)
    identical = torch.equal(outputs["with cache"], outputs["without cache"])
    if not identical:
        raise RuntimeError("greedy generation with and without the KV cache gave different tokens")
    cached, uncached = runs["with cache"], runs["without cache"]
    pair = [a / b for a, b in zip(cached, uncached, strict=True)]
    return {
        "settings": settings(args, model, prompt),
        "identical_outputs": identical,
        "tokens_per_s": {k: [round(v, 1) for v in vals] for k, vals in runs.items()},
        "tokens_per_s_spread": {k: spread(vals, 1) for k, vals in runs.items()},
        "speedup_of_medians": round(statistics.median(cached) / statistics.median(uncached), 2),
        "pair_speedups": [round(p, 2) for p in pair],
        "pair_speedup_spread": spread(pair, 2),
    }


def settings(args: argparse.Namespace, model: GPT, prompt: torch.Tensor) -> dict:
    """Everything that defines the measurement, for the JSON."""
    return {
        "preset": args.preset,
        "model": model.config.to_dict(),
        "parameters": model.num_parameters(),
        "prompt_tokens": prompt.shape[1],
        "new_tokens": args.new_tokens,
        "batch_size": args.batch_size,
        "decoding": "greedy (do_sample=False)",
        "repeats": args.repeats,
        "threads": torch.get_num_threads(),
        "dtype": "float32",
    }


def report(result: dict) -> str:
    """The human-readable summary printed by the script."""
    rows = [[k, s["min"], s["median"], s["max"], s["n"]] for k, s in result["tokens_per_s_spread"].items()]
    p = result["pair_speedup_spread"]
    return "\n".join(
        [
            table(rows, ["generation", "min tok/s", "median tok/s", "max tok/s", "repeats"]),
            f"speed-up with the KV cache: {result['speedup_of_medians']}x (ratio of medians), "
            f"per-repeat min {p['min']}x median {p['median']}x max {p['max']}x",
            f"identical tokens with and without the cache: {result['identical_outputs']}",
        ]
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="cpu")
    p.add_argument("--block-size", type=int, default=512)
    p.add_argument("--prompt-chars", type=int, default=32)
    p.add_argument("--new-tokens", type=int, default=256)
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--repeats", type=int, default=8)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", default=None, help="folder for the JSON (default bench/results)")
    p.add_argument("--name", default="generate")
    args = p.parse_args(argv)
    if min(args.prompt_chars, args.new_tokens, args.batch_size, args.repeats) < 1:
        p.error("--prompt-chars, --new-tokens, --batch-size and --repeats must be >= 1")
    return args


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark, print the table, write the JSON."""
    return run_and_write("generate", parse_args, run, report, argv)


if __name__ == "__main__":
    main()
