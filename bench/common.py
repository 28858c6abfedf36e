"""Shared helpers of the benchmark scripts: machine description, statistics, tables, JSON output.

Every script in ``bench/`` writes ``bench/results/<name>.json`` through ``write_result`` so that
``bench/report.py`` can render the book's performance page from them.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
if str(ROOT) not in sys.path:  # run as `python bench/x.py` from a clone without installing
    sys.path.insert(0, str(ROOT))

__all__ = [
    "ROOT",
    "RESULTS",
    "cpu_model",
    "flops_per_token",
    "cpu_features",
    "machine_info",
    "preset_batch",
    "spread",
    "table",
    "write_result",
    "load_average",
]


def cpu_model() -> str:
    """The CPU's marketing name from /proc/cpuinfo, else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_features() -> list[str]:
    """Vector/matrix extensions that matter for PyTorch's CPU kernels, as /proc/cpuinfo lists them."""
    wanted = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return [f for f in wanted if f in flags]
    except OSError:
        pass
    return []


def load_average() -> float | None:
    """1-minute load average (how busy the machine was: other work inflates timings)."""
    try:
        return round(os.getloadavg()[0], 2)
    except (OSError, AttributeError):
        return None


def machine_info() -> dict:
    """What the numbers were measured on: CPU, cores, threads, GPU, library versions, date."""
    import torch

    info = {
        "cpu": cpu_model(),
        "cpu_features": cpu_features(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_1min": load_average(),
    }
    try:
        import transformers

        info["transformers"] = transformers.__version__
    except ImportError:
        info["transformers"] = None
    return info


def spread(values: Sequence[float], digits: int = 1) -> dict:
    """min / median / max / n of a list of measurements."""
    if not values:
        raise ValueError("spread() needs at least one measurement")
    vals = [float(v) for v in values]
    r = lambda v: round(v, digits)  # noqa: E731
    return {"min": r(min(vals)), "median": r(statistics.median(vals)), "max": r(max(vals)), "n": len(vals)}


def table(rows: Sequence[Sequence], header: Sequence[str]) -> str:
    """A plain-text table with aligned columns (what the scripts print)."""
    cells = [[str(h) for h in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_result(name: str, data: dict, directory: Path | None = None, machine: dict | None = None) -> Path:
    """Write ``{"name", "machine", **data}`` to ``<directory>/<name>.json`` and return the path.

    ``machine`` is ``machine_info()`` taken when the measurement started (default: now).
    """
    directory = Path(directory) if directory is not None else RESULTS
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    payload = {"name": name, "machine": machine or machine_info(), **data}
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def run_and_write(name: str, parse_args, run, report, argv: list[str] | None = None) -> dict:
    """What every benchmark's ``main`` does: parse, run, print the table, write ``<name>.json``.

    ``name`` is the default; a script with a ``--name`` option may override it.
    """
    args = parse_args(argv)
    machine = machine_info()  # the date and load average as the measurement starts, not when it ends
    result = run(args)
    print(report(result))
    print(f"wrote {write_result(getattr(args, 'name', None) or name, result, args.out, machine)}")
    return result


def train_preset_run(preset: str, cfg, device) -> dict:
    """Train the named GPT preset on Tiny Shakespeare with ``cfg`` (seeded): model, history, summary, curve, wall_s."""
    import time

    import torch

    from lmtutor.recipes import shakespeare_data
    from lmtutor.train import run_summary, train
    from lmtutor.transformer import GPT, GPTConfig

    tok, train_ids, val_ids = shakespeare_data()
    torch.manual_seed(cfg.seed)
    model = GPT(GPTConfig.preset(preset, vocab_size=tok.vocab_size))
    t0 = time.perf_counter()
    history = train(model, train_ids, val_ids, cfg, device=device)
    wall = time.perf_counter() - t0
    summary = run_summary(history, cfg.batch_size * model.config.block_size)
    curve = {k: [round(v, 4) for v in history[k]] for k in ("eval_step", "elapsed", "train_loss", "val_loss")}
    return {"model": model, "history": history, "summary": summary, "curve": curve, "wall_s": wall}


def flops_per_token(config, n_params: int) -> float:
    """Training FLOPs per token: 6·N for the weights plus 12·L·D·T for attention scores and mixing."""
    n = n_params - config.block_size * config.d_model  # without the position table (a lookup, no FLOPs)
    return 6 * n + 12 * config.n_layer * config.d_model * config.block_size


def preset_batch(preset: str) -> int:
    """The training batch of a model preset (8 for a size the book does not train, such as gpt2)."""
    from lmtutor.config import PRESETS

    recipe = PRESETS[preset].train if preset in PRESETS else None
    return recipe.batch_size if recipe is not None else 8
