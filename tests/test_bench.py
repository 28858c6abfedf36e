"""The benchmark scripts' logic with tiny settings: results, the performance page, KV-cache identity.

No timing is asserted here: timings belong to the scripts in bench/, which print and save them.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parent.parent / "bench"
sys.path.insert(0, str(BENCH))

import generate  # noqa: E402
import gpu  # noqa: E402
import quality  # noqa: E402
import report  # noqa: E402
import train_step  # noqa: E402
from common import spread, write_result  # noqa: E402

import book  # noqa: E402


def _machine(load: float = 0.5) -> dict:
    return {
        "cpu": "Test CPU",
        "cpu_features": ["avx2"],
        "cores": 2,
        "torch_threads": 2,
        "platform": "Linux",
        "python": "3.11",
        "torch": "2.13.0",
        "transformers": "5.23.0",
        "gpu": None,
        "date": "2026-01-01 00:00 UTC",
        "load_average_1min": load,
    }


def sample_results() -> dict[str, dict]:
    """Small hand-made results in the shape the scripts write."""
    recipe = {
        "model": {"n_layer": 3, "n_head": 3, "d_model": 96, "block_size": 64, "bias": True, "dropout": 0.0},
        "train": {"batch_size": 32, "lr": 0.003, "eval_interval": 250},
        "parameters": 348096,
        "flops_per_token": 2.1e6,
    }
    runs = [
        {"recipe": name, "budget": budget, "repeat": k, "val_loss": loss + 0.01 * k, "steps": 100,
         "tokens_per_s": 30000, "wall_s": budget,
         "curve": {"elapsed": [0.5, budget / 2, budget], "val_loss": [4.2, 2.3, loss]}}
        for budget, losses in ((60.0, (1.95, 1.80)), (135.0, (1.80, 1.66)))
        for name, loss in zip(("nanoGPT", "book"), losses, strict=True)
        for k in range(2)
    ]  # fmt: skip
    quality_result = {
        "settings": {
            "preset": "cpu",
            "budgets_s": [60.0, 135.0],
            "repeats": 2,
            "seed": 1337,
            "final_eval": {"split": "val", "batch_size": 64, "n_batches": 100, "seed": 0},
            "margin": 0.05,
            "recipes": {"nanoGPT": {**recipe, "parameters": 804096}, "book": recipe},
            "ladder_budget_s": 135.0,
        },
        "runs": runs,
        "budgets": quality.summarize(runs, [60.0, 135.0]),
        "book_ahead_everywhere": True,
        "ladder": [{"change": "nanoGPT's recipe", "val_loss": 1.8, "steps": 2900, "tokens_per_s": 17000}],
        "matmul_gflops": [100.0, 101.0],
        "throughput": {"book": {"median_tokens_per_s": 30000, "ideal_tokens_per_s": 48000, "fraction_of_ideal": 0.625}},
        "reference": quality.REFERENCE,
    }
    generate_result = {
        "settings": {
            "preset": "cpu",
            "model": {"block_size": 512},
            "prompt_tokens": 32,
            "new_tokens": 256,
            "batch_size": 1,
        },  # fmt: skip
        "identical_outputs": True,
        "tokens_per_s_spread": {"with cache": spread([500.0, 510.0]), "without cache": spread([90.0, 95.0])},
        "speedup_of_medians": 5.47,
        "pair_speedup_spread": spread([5.4, 5.5], 2),
    }
    return {
        "quality": {"machine": _machine(), **quality_result},
        "generate": {"machine": _machine(), **generate_result},
    }


def test_report_renders_numbers_from_json_and_states_what_is_missing(tmp_path):
    for name, data in sample_results().items():
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    page, figure = tmp_path / "book" / "performance.md", tmp_path / "book" / "images" / "quality_curve.png"
    text = report.render(report.load_results(tmp_path), page, figure)
    assert text.startswith("# Performance\n")
    assert "Test CPU" in text and "| 135 s | 1.8050 (min 1.8000, max 1.8100, n = 2) |" in text
    assert "+0.1400 (min +0.1400)" in text and "ahead by at least 0.05 nats per character at every budget" in text
    assert "book 30,000 tokens/s = 62 % of 48,000" in text
    assert "**Speed-up 5.47x**" in text and "Identical tokens with and without the cache: yes" in text
    assert "![Validation loss against wall-clock time, both recipes, every budget](images/quality_curve.png)" in text
    assert "Not measured on this machine: it has no CUDA GPU" in text
    assert "Not measured yet: run `python bench/train_step.py`" in text
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_is_deterministic(tmp_path):
    for name, data in sample_results().items():
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    outputs = []
    for i in range(2):
        page, figure = tmp_path / f"run{i}" / "performance.md", tmp_path / f"run{i}" / "images" / "curve.png"
        report.main(["--results", str(tmp_path), "--page", str(page), "--figure", str(figure)])
        outputs.append((page.read_text(), figure.read_bytes()))
    assert outputs[0] == outputs[1]


def test_kv_cache_generation_is_identical_and_reported(tmp_path):
    args = generate.parse_args(["--preset", "nano", "--block-size", "64", "--prompt-chars", "8", "--new-tokens", "40",
                                "--repeats", "2", "--out", str(tmp_path)])  # fmt: skip
    result = generate.main(["--preset", "nano", "--block-size", "64", "--prompt-chars", "8", "--new-tokens", "40",
                            "--repeats", "2", "--out", str(tmp_path)])  # fmt: skip
    assert result["identical_outputs"] is True
    assert result["settings"]["new_tokens"] == args.new_tokens == 40
    assert len(result["pair_speedups"]) == 2 and all(v > 0 for v in result["pair_speedups"])
    saved = json.loads((tmp_path / "generate.json").read_text())
    assert saved["machine"]["cores"] >= 1 and saved["identical_outputs"] is True


def test_generation_with_and_without_cache_agree_past_the_context():
    model = generate.make_model("nano", block_size=32, vocab_size=65, seed=3)
    prompt = torch.randint(0, 65, (2, 10), generator=torch.Generator().manual_seed(0))
    cached, _ = generate.timed_generate(model, prompt, 40, use_cache=True)  # runs past block_size
    plain, _ = generate.timed_generate(model, prompt, 40, use_cache=False)
    assert cached.shape == (2, 50) and torch.equal(cached, plain)


def test_training_step_benchmark_compares_identical_models(tmp_path):
    result = train_step.main(["--preset", "nano", "--batch-size", "2", "--repeats", "2", "--steps", "1", "--warmup",
                              "0", "--profile", "--profile-steps", "1", "--out", str(tmp_path)])  # fmt: skip
    losses = list(result["initial_loss"].values())
    assert len(losses) == 3 and max(losses) - min(losses) < 1e-4
    assert set(result["tokens_per_s"]) == {"lmtutor", "transformers", train_step.HF_GELU_VARIANT}
    assert len(result["pair_ratios"]) == 2 and result["ratio_of_medians"] > 0
    assert result["profile"]["lmtutor"] and "op" in result["profile"]["lmtutor"][0]
    assert (tmp_path / "train_step.json").exists()


def test_quality_benchmark_compares_both_recipes_at_each_budget(tmp_path):
    result = quality.main(["--preset", "nano", "--budgets", "1.5", "3", "--repeats", "2", "--ladder-budget", "3",
                           "--eval-batches", "3", "--out", str(tmp_path)])  # fmt: skip
    runs = result["runs"]
    assert len(runs) == 8 and {(r["recipe"], r["budget"]) for r in runs} == {
        (name, b) for name in ("nanoGPT", "book") for b in (1.5, 3.0)
    }
    # alternating: the first repeat starts with nanoGPT, the second with the book
    assert [r["recipe"] for r in runs[:2]] == ["nanoGPT", "book"]
    assert [r["recipe"] for r in runs[4:6]] == ["book", "nanoGPT"]
    assert all(r["curve"]["val_loss"][-1] < r["curve"]["val_loss"][0] for r in runs)
    at3 = result["budgets"]["3"]
    loss = {(r["recipe"], r["budget"], r["repeat"]): r["val_loss"] for r in runs}
    diffs = [loss["nanoGPT", 3.0, k] - loss["book", 3.0, k] for k in (0, 1)]
    assert at3["difference"]["n"] == 2 and at3["difference"]["min"] == pytest.approx(min(diffs), abs=1e-4)
    assert at3["book_ahead"] == (at3["difference"]["min"] >= quality.MARGIN)
    assert [r["change"] for r in result["ladder"]][0] == "nanoGPT's recipe" and len(result["ladder"]) == 4
    assert result["ladder"][0]["val_loss"] == runs[2]["val_loss"]  # the ends reuse the first repeat's runs
    nano = result["settings"]["recipes"]["nanoGPT"]
    assert nano["model"]["bias"] is False and nano["train"]["batch_size"] == 12 and nano["train"]["lr"] == 1e-3
    assert 0 < result["throughput"]["book"]["fraction_of_ideal"] < 1.5
    assert (tmp_path / "quality.json").exists()


def test_results_record_the_machine_as_it_was_when_the_run_started(tmp_path, monkeypatch):
    import common

    events = []
    monkeypatch.setattr(common, "machine_info", lambda: events.append("machine") or {"date": "at the start"})

    def probe_run(args):
        events.append("run")
        return {"value": 1}

    parse = lambda argv: argparse.Namespace(out=tmp_path, name=None)  # noqa: E731
    common.run_and_write("probe", parse, probe_run, lambda r: "report", [])
    assert events == ["machine", "run"]
    assert json.loads((tmp_path / "probe.json").read_text())["machine"] == {"date": "at the start"}


def test_gpu_flops_and_peak_table():
    from lmtutor.transformer import GPT, GPTConfig

    config = GPTConfig.preset("gpu", vocab_size=65)
    n = GPT(config).num_parameters()
    expected = 6 * (n - 256 * 384) + 12 * 6 * 384 * 256
    assert gpu.flops_per_token(config, n) == expected
    assert gpu.peak_tflops("NVIDIA H100 PCIe") == 756.0
    assert gpu.peak_tflops("NVIDIA H100 80GB HBM3") == 989.0
    assert gpu.peak_tflops("NVIDIA A100-SXM4-40GB") == 312.0
    assert gpu.peak_tflops("NVIDIA L40S") == 362.0 and gpu.peak_tflops("NVIDIA L4") == 121.0
    assert gpu.peak_tflops("Some Future GPU") is None and gpu.peak_tflops("x", override=100.0) == 100.0


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpu_benchmark_explains_missing_cuda(tmp_path, capsys):
    assert gpu.main(["--out", str(tmp_path)]) == 2
    assert "needs a CUDA GPU" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_book_benchmark_parts_and_merge(tmp_path):
    assert book.parse_args(["--fast-only"]).only == ["fast"]
    assert book.parse_args(["--build-only", "--only", "nbval"]).only == ["nbval", "build"]
    assert book.parse_args([]).only == list(book.PARTS)
    write_result("book", {"fast": {"per_notebook_s": {"a.ipynb": 1.0}, "total_s": 1.0}, "other": 1}, tmp_path)
    kept = book.previous(str(tmp_path))
    assert kept == {"fast": {"per_notebook_s": {"a.ipynb": 1.0}, "total_s": 1.0}}
    assert book.notebook_rows({"default": {"per_notebook_s": {"b": 2.0}}, **kept}) == [["a.ipynb", "-", 1.0],
                                                                                         ["b", 2.0, "-"]]  # fmt: skip


def test_spread_rejects_empty():
    with pytest.raises(ValueError, match="at least one"):
        spread([])
    assert spread([3, 1, 2]) == {"min": 1.0, "median": 2.0, "max": 3.0, "n": 3}


def test_parse_args_reject_bad_values():
    with pytest.raises(SystemExit):
        train_step.parse_args(["--repeats", "0"])
    with pytest.raises(SystemExit):
        quality.parse_args(["--budgets", "60", "0"])
    assert isinstance(generate.parse_args([]), argparse.Namespace)


def test_scaling_sweep_gives_every_size_the_same_compute(tmp_path):
    import scaling

    result = scaling.main(["--tokens", "4000", "--sizes", "1x16", "2x32", "2x48", "--out", str(tmp_path)])
    runs = result["runs"]
    assert [r["size"] for r in runs] == ["1x16", "2x32", "2x48"]
    assert runs[0]["tokens"] > runs[1]["tokens"] > runs[2]["tokens"]  # smaller models see more tokens
    for r in runs:
        assert abs(r["compute"] / result["settings"]["compute"] - 1) < 0.5  # steps are rounded, at least 20
        assert r["curve"]["compute"] == sorted(r["curve"]["compute"]) and len(r["curve"]["val_loss"]) >= 2
    assert json.loads((tmp_path / "scaling.json").read_text())["frontier_fit"] == result["frontier_fit"]


def test_modern_ablation_report_lists_every_variant_with_its_gaps(tmp_path):
    import modern

    result = modern.main(["--budget", "0.2", "--repeats", "1", "--out", str(tmp_path)])
    assert list(result["variants"]) == list(modern.VARIANTS)
    assert result["variants"]["GPT-2 block"]["gap_to_gpt2"] == [0.0]
    assert result["variants"]["all four"]["parameters"] < result["variants"]["GPT-2 block"]["parameters"]
    assert "vs GPT-2 block, per seed" in modern.report(result)
