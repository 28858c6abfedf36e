"""Render the book's performance page from the benchmark results.

    python bench/report.py                       # bench/results/*.json -> book/performance.md (+ figure)
    python bench/report.py --results DIR --page PAGE.md --figure FIG.png

Every number on the page comes from a JSON file that a script in ``bench/`` wrote; nothing is
typed by hand. A benchmark without a result says so ("not measured"). The output depends only
on the JSON files, so rendering twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import RESULTS, ROOT  # bench/common.py, next to this script

PAGE = ROOT / "book" / "performance.md"
FIGURE = ROOT / "book" / "images" / "quality_curve.png"
NAMES = ("train_step", "ablations", "quality", "generate", "book", "gpu")
SHIPPED = ROOT / "lmtutor" / "results"  # results a chapter also reads (chapter 9: quality) ship with the package


def load_results(directory: Path, shipped: Path = SHIPPED) -> dict[str, dict]:
    """The known result files present in ``directory`` (else in ``shipped``), by benchmark name."""
    out = {}
    for name in NAMES:
        path = Path(directory) / f"{name}.json"
        if not path.exists():
            path = Path(shipped) / f"{name}.json"
        if path.exists():
            out[name] = json.loads(path.read_text(encoding="utf-8"))
    return out


def md_table(header: list[str], rows: list[list]) -> str:
    """A plain markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _n(value: float, digits: int = 0) -> str:
    return f"{value:,.{digits}f}"


def _spread(s: dict, digits: int = 0, unit: str = "") -> str:
    return f"{_n(s['median'], digits)}{unit} (min {_n(s['min'], digits)}, max {_n(s['max'], digits)}, n = {s['n']})"


def _when(result: dict) -> str:
    m = result["machine"]
    load = m.get("load_average_1min")
    return f"*Measured {m['date']}" + (f"; 1-minute load average at the start: {load}.*" if load is not None else ".*")


def machine_section(results: dict[str, dict]) -> str:
    """Which machine(s) the numbers come from."""
    machines = {}
    for r in results.values():
        m = r["machine"]
        key = (m["cpu"], m["cores"], m.get("gpu"), m["torch"], m.get("transformers"), m["platform"])
        machines.setdefault(key, m)
    rows = []
    for m in machines.values():
        features = ", ".join(m.get("cpu_features") or []) or "-"
        rows.append([m["cpu"], features, m["cores"], m["torch_threads"], m.get("gpu") or "none", m["torch"],
                     m.get("transformers") or "-", m["python"], m["platform"]])  # fmt: skip
    header = ["CPU", "CPU features", "cores", "torch threads", "GPU", "torch", "transformers", "Python", "system"]
    return "## The machine\n\n" + md_table(header, rows)


def train_step_section(r: dict | None) -> str:
    """Benchmark 1: training throughput against 🤗 Transformers."""
    head = "## 1. Training step: lmtutor vs 🤗 Transformers\n\n"
    if r is None:
        return head + "Not measured yet: run `python bench/train_step.py`."
    s = r["settings"]
    rows = [[name, _n(v["min"]), _n(v["median"]), _n(v["max"]), v["n"]] for name, v in r["tokens_per_s_spread"].items()]
    p, g = r["pair_ratio_spread"], r["vs_gelu_variant"]
    verdict = "met" if r["ratio_of_medians"] >= 1.2 else "not met"
    text = [
        f"One optimisation step (forward, cross-entropy, backward, gradient clipping, AdamW) of the chapter's "
        f"`{s['preset']}` model ({_n(s['parameters'])} parameters, {s['model']['n_layer']} layers, width "
        f"{s['model']['d_model']}, context {s['block_size']}) on batches of {s['batch_size']} x {s['block_size']} "
        f"tokens, {s['dtype']}, {s['threads']} threads. Both libraries hold the same weights (their losses on the "
        f"first batch agree) and use the same AdamW construction; 🤗 runs with its default `{s['hf_attention']}` "
        f"attention. Each repeat is {s['steps_per_repeat']} steps; the models take turns.",
        md_table(["model", "min tokens/s", "median tokens/s", "max tokens/s", "repeats"], rows),
        f"**lmtutor / 🤗 GPT-2: {r['ratio_of_medians']}x** (ratio of medians; per-repeat ratios "
        f"{p['min']}-{p['max']}, median {p['median']}). Target >= 1.2x: {verdict}. GPT-2's configuration computes "
        f"its `gelu_new` activation as a Python formula of several tensor operations; with the one-kernel "
        f"`gelu_pytorch_tanh` (the same function) the ratio is {g['ratio_of_medians']}x "
        f"(per repeat {g['pair_ratio_spread']['min']}-{g['pair_ratio_spread']['max']}).",
        _when(r),
    ]
    if "profile" in r:
        text.append(profile_table(r["profile"]))
    return head + "\n\n".join(text)


def profile_table(profile: dict[str, list[dict]]) -> str:
    """Where the time goes: the top operators of each model."""
    parts = ["### Where the time goes\n\nSelf CPU time per step by operator (`torch.profiler`), the top ones:"]
    for name, ops in profile.items():
        rows = [
            [f"`{o['op']}`", f"{o['ms_per_step']:.2f}", f"{100 * o['share']:.1f} %", o["calls_per_step"]]
            for o in ops[:8]
        ]
        parts.append(f"**{name}**\n\n" + md_table(["operator", "ms per step", "share", "calls per step"], rows))
    return "\n\n".join(parts)


def ablations_section(r: dict | None) -> str:
    """What each choice of the training path is worth (before/after)."""
    head = "### What each choice is worth\n\n"
    if r is None:
        return head + "Not measured yet: run `python bench/ablations.py`."
    rows = [
        [name, _n(v["tokens_per_s"]["median"]), f"{v['speedup_of_choice']}x",
         f"{v['pair_speedups']['min']}-{v['pair_speedups']['max']}"]
        for name, v in r["variants"].items()
    ]  # fmt: skip
    return head + "\n\n".join(
        [
            'The lmtutor step with one choice undone at a time (the "before"), same weights and batches, '
            f"{r['settings']['repeats']} rotating repeats. The last columns say how much faster the step is with "
            "lmtutor's choice than without it (above 1: the choice pays).",
            md_table(["variant", "median tokens/s", "lmtutor / variant", "per-repeat range"], rows),
            _when(r),
        ]
    )


def _recipe(d: dict) -> str:
    m, t = d["model"], d["train"]
    bias = "biases" if m["bias"] else "no biases"
    return (
        f"{m['n_layer']} layers, {m['n_head']} heads, width {m['d_model']}, context {m['block_size']}, {bias} "
        f"({_n(d['parameters'])} parameters); batch {t['batch_size']}, peak learning rate {t['lr']:g}, "
        f"evaluation every {t['eval_interval']} steps"
    )


def quality_section(r: dict | None, figure: Path, page: Path) -> str:
    """Benchmark 2: the book's recipe against nanoGPT's at equal wall-clock time, with the curves."""
    head = "## 2. Quality per time\n\n"
    if r is None:
        return head + "Not measured yet: run `python bench/quality.py`."
    s, rec = r["settings"], r["settings"]["recipes"]
    e = s["final_eval"]
    rel = Path(figure).resolve().relative_to(Path(page).resolve().parent).as_posix()
    rows = [
        [f"{b} s", _spread(v["nanoGPT"], 4), _spread(v["book"], 4),
         f"{v['difference']['median']:+.4f} (min {v['difference']['min']:+.4f})",
         "yes" if v["book_ahead"] else "**no**"]
        for b, v in r["budgets"].items()
    ]  # fmt: skip
    parts = [
        "Two recipes train a character-level GPT on Tiny Shakespeare for the same wall-clock budget, in one "
        f"process, alternating, {s['repeats']} repeats each (seeds {s['seed']} and up): the book's "
        f"(`{s['preset']}` preset of chapter 9: {_recipe(rec['book'])}) and nanoGPT's documented CPU recipe run "
        f"with `lt.GPT` ({_recipe(rec['nanoGPT'])}). Each budget includes the recipe's own evaluations; "
        "the learning-rate schedule is compressed to end with it. The loss compared is one fixed evaluation "
        f"after training, the same for both ({e['n_batches']} batches of {e['batch_size']} windows of the "
        f"validation split, seed {e['seed']}).",
        md_table(
            ["budget", "nanoGPT's recipe", "book's recipe", "nanoGPT - book", f"book ahead by >= {s['margin']}"], rows
        ),
    ]
    verdict = "at every budget" if r["book_ahead_everywhere"] else "**not** at every budget"
    parts.append(f"The book's recipe is ahead by at least {s['margin']} nats per character {verdict}.")
    if r["ladder"]:
        lad = [[x["change"], x["val_loss"], _n(x["tokens_per_s"]), _n(x["steps"])] for x in r["ladder"]]
        parts += [
            f"From one recipe to the other, one change at a time ({s['ladder_budget_s']:g} s each, one run; the "
            "two ends are the first repeat above):",
            md_table(["change", "validation loss", "tokens/s", "steps"], lad),
        ]
    tp = r["throughput"]
    parts.append(
        "Throughput against the matmul-bound ideal (the fp32 matmul rate measured in the same run, "
        f"{max(r['matmul_gflops'])} GFLOP/s, divided by the model's training FLOPs per token, 6·N + 12·L·D·T): "
        + "; ".join(
            f"{name} {_n(t['median_tokens_per_s'])} tokens/s = {100 * t['fraction_of_ideal']:.0f} % of "
            f"{_n(t['ideal_tokens_per_s'])}"
            for name, t in tp.items()
        )
        + f". For scale, {r['reference']['what']} reached {r['reference']['val_loss']} according to its "
        f"[README]({r['reference']['source']})."
    )
    parts += [f"![Validation loss against wall-clock time, both recipes, every budget]({rel})", _when(r)]
    return head + "\n\n".join(parts)


def generate_section(r: dict | None) -> str:
    """Benchmark 3: generation with and without the KV cache."""
    head = "## 3. Generation with a KV cache\n\n"
    if r is None:
        return head + "Not measured yet: run `python bench/generate.py`."
    s = r["settings"]
    rows = [
        [k, _n(v["min"], 1), _n(v["median"], 1), _n(v["max"], 1), v["n"]] for k, v in r["tokens_per_s_spread"].items()
    ]
    p = r["pair_speedup_spread"]
    verdict = "met" if r["speedup_of_medians"] >= 3 else "not met"
    return head + "\n\n".join(
        [
            f"Greedy decoding of {s['new_tokens']} new tokens after a {s['prompt_tokens']}-character prompt, batch "
            f"{s['batch_size']}, with the `{s['preset']}` model and a context of {s['model']['block_size']} positions.",
            md_table(["generation", "min tokens/s", "median tokens/s", "max tokens/s", "repeats"], rows),
            f"**Speed-up {r['speedup_of_medians']}x** (ratio of medians; per repeat {p['min']}-{p['max']}x). "
            f"Target >= 3x: {verdict}. Identical tokens with and without the cache: "
            f"{'yes' if r['identical_outputs'] else 'no'}.",
            _when(r),
        ]
    )


def book_section(r: dict | None) -> str:
    """Benchmark 4: notebooks, nbval and the site build."""
    head = "## 4. The book\n\n"
    if r is None:
        return head + "Not measured yet: run `python bench/book.py`."
    text = []
    times = {part: r.get(part, {}).get("per_notebook_s", {}) for part in ("default", "fast")}
    names = sorted(set(times["default"]) | set(times["fast"]))
    if names:
        rows = [[f"`{n}`", times["default"].get(n, "-"), times["fast"].get(n, "-")] for n in names]
        rows.append(["**total**", r.get("default", {}).get("total_s", "-"), r.get("fast", {}).get("total_s", "-")])
        text.append(
            "Each notebook top to bottom in a fresh kernel (seconds), with the book's cache of trained "
            "checkpoints filled (chapter 9's GPT, the offline 🤗 models of chapter 13). With an empty cache, "
            "the first chapter that needs one of them trains it first; chapter 9's model takes about two "
            "minutes on this machine.\n\n" + md_table(["notebook", "default mode", "fast mode"], rows)
        )
    lines = []
    if "nbval" in r:
        ok = "within" if r["meets_targets"].get("nbval_within_10_min") else "over"
        lines.append(
            f"- CI's notebook test (`pytest --nbval-lax`, fast mode): {r['nbval']['wall_s']} s, "
            f"{ok} the 10-minute target" + ("." if r["nbval"]["ok"] else f" ({r['nbval']['summary']}).")
        )
    if "build" in r:
        ok = "within" if r["meets_targets"].get("build_within_60_s") else "over"
        lines.append(
            f"- Website build from the committed outputs (`jupyter-book build {r['build']['flags']}`): "
            f"{r['build']['wall_s']} s, {ok} the 60-second target"
            + ("." if r["build"]["ok"] else "; that build stopped with warnings, so its time may be incomplete.")
        )
    text += ["\n".join(lines)] if lines else []
    return head + "\n\n".join(text + [_when(r)])


def gpu_section(r: dict | None) -> str:
    """Benchmark 5: the GPU preset on CUDA."""
    head = "## 5. On a CUDA GPU\n\n"
    if r is None:
        return head + (
            "Not measured on this machine: it has no CUDA GPU. On one, `python bench/gpu.py` trains the `gpu` preset "
            "(bf16 autocast, `torch.compile`) for 3 minutes and reports tokens/s, model FLOPs utilization and the "
            "validation loss (for comparison, nanoGPT reports 1.4697 after about 3 minutes on one A100)."
        )
    s = r["settings"]
    mfu = f"{100 * r['mfu']:.1f} %" if r["mfu"] is not None else "unknown (peak FLOP/s of this GPU not in the table)"
    rows = [
        [
            s["device"],
            _n(r["tokens_per_s"]["median_steady"]),
            mfu,
            r["final_val_loss"],
            r["best_val_loss"],
            _n(r["steps"]),
        ]
    ]
    return head + "\n\n".join(
        [
            f"`{s['preset']}` preset ({_n(s['parameters'])} parameters), {s['precision']}, compile: {s['compile']}, "
            f"budget {s['time_budget_s']:.0f} s including compilation.",
            md_table(["GPU", "tokens/s", "MFU", "final val loss", "best val loss", "steps"], rows),
            f"Reference: {r['reference']['what']}: {r['reference']['val_loss']}.",
            _when(r),
        ]
    )


def draw_curve(quality: dict, path: Path) -> None:
    """Validation loss against wall-clock seconds, both recipes, one panel per budget (same bytes each time)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    budgets = list(quality["budgets"])
    fig, axes = plt.subplots(1, len(budgets), figsize=(4 * len(budgets), 3.6), sharey=True, squeeze=False)
    colors = {"nanoGPT": "tab:orange", "book": "tab:blue"}
    for ax, budget in zip(axes[0], budgets, strict=True):
        for run in quality["runs"]:
            if f"{run['budget']:g}" != budget:
                continue
            c, first = run["curve"], run["repeat"] == 0
            label = f"{run['recipe']}'s recipe" if first else None
            ax.plot(c["elapsed"], c["val_loss"], "-", color=colors[run["recipe"]], lw=1.2 if first else 0.8,
                    alpha=1 if first else 0.5, label=label)  # fmt: skip
            ax.plot([c["elapsed"][-1]], [run["val_loss"]], "o", color=colors[run["recipe"]], ms=4)
        ax.set_title(f"{budget} s budget")
        ax.set_xlabel("wall-clock time (s)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation loss (nats per character)")
    axes[0][0].set_ylim(top=3.0)
    axes[0][0].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(fig)


INTRO = """# Performance

How fast the book's code trains and generates, and how long the book takes to run and build.
Every number on this page was measured by a script in the repository's `bench/` folder, which
prints a table and writes a JSON file to `bench/results/`; `python bench/report.py` renders this
page from those files. Figures carry their spread (minimum, median, maximum over repeats), and
comparisons are timed alternately in one process so that other work on the machine slows both
sides alike. Timings depend on the machine and on what else it was doing: the load average at
the start of each measurement is given with it."""

REPRODUCE = """## Reproduce

```bash
python bench/train_step.py --profile   # 1. training step vs 🤗 Transformers, with a profile
python bench/ablations.py              #    what each choice of the training path is worth
python bench/quality.py                # 2. book's recipe vs nanoGPT's, 60/135/300 s
python bench/generate.py               # 3. KV cache speed-up
python bench/book.py                   # 4. notebooks, nbval, site build (--fast-only, --build-only)
python bench/gpu.py                    # 5. on a CUDA GPU
python bench/report.py                 # this page
```"""


def render(results: dict[str, dict], page: Path = PAGE, figure: Path = FIGURE) -> str:
    """The page's markdown (and its figure, when the quality result exists)."""
    if "quality" in results:
        draw_curve(results["quality"], figure)
    sections = [INTRO]
    if results:
        sections.append(machine_section(results))
    training = train_step_section(results.get("train_step")) + "\n\n" + ablations_section(results.get("ablations"))
    sections += [training, quality_section(results.get("quality"), figure, page)]
    sections += [generate_section(results.get("generate")), book_section(results.get("book"))]
    sections += [gpu_section(results.get("gpu")), REPRODUCE]
    return "\n\n".join(sections) + "\n"


def main(argv: list[str] | None = None) -> Path:
    """Read the results, write the page."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--results", type=Path, default=RESULTS)
    p.add_argument("--page", type=Path, default=PAGE)
    p.add_argument("--figure", type=Path, default=FIGURE)
    args = p.parse_args(argv)
    text = render(load_results(args.results), args.page, args.figure)
    args.page.parent.mkdir(parents=True, exist_ok=True)
    args.page.write_text(text, encoding="utf-8")
    print(f"wrote {args.page}")
    return args.page


if __name__ == "__main__":
    main()
