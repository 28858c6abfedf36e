"""Hygiene of the committed chapter notebooks: executed in order, outputs present, no errors, conventions."""

import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9]*.ipynb"))
ABS_PATH = re.compile(r"(/home/|/root/|/tmp/|/work/|/Users/|C:\\\\Users|/var/folders/)")


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def code_cells(nb):
    return [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]


def text(cell) -> str:
    return "".join(cell["source"])


def test_there_are_notebooks():
    assert NOTEBOOKS, "no chapter notebooks found"


def test_every_notebook_is_in_the_toc():
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = {ch["file"] for part in toc["parts"] for ch in part["chapters"]}
    for nb in NOTEBOOKS:
        assert f"notebooks/{nb.stem}" in files, f"{nb.name} is not listed in _toc.yml"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_in_order_with_outputs_and_no_errors(path):
    cells = code_cells(load(path))
    counts = [c.get("execution_count") for c in cells]
    assert None not in counts, f"{path.name}: some code cells were never executed"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: not run top to bottom in one kernel: {counts}"
    assert sum(bool(c["outputs"]) for c in cells) >= len(cells) // 2, f"{path.name}: most cells have no output"
    for i, c in enumerate(cells):
        for out in c["outputs"]:
            assert out["output_type"] != "error", f"{path.name}: code cell {i} has an error output"
            assert not ABS_PATH.search(json.dumps(out)), f"{path.name}: code cell {i} output shows a machine path"
            if out.get("name") == "stderr":
                assert "Traceback" not in "".join(out.get("text", "")), f"{path.name}: cell {i} printed a traceback"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_chapter_structure(path):
    nb = load(path)
    md = [text(c) for c in nb["cells"] if c["cell_type"] == "markdown"]
    code = code_cells(nb)
    assert md[0].lstrip().startswith("# "), f"{path.name}: the first cell must be the title"
    headings = "\n".join(md)
    for h in ("## Learning goals", "## Exercises", "## Summary", "## References"):
        assert h in headings, f"{path.name}: missing section {h!r}"
    # an exercise's one-line check cell belongs to its solution cell: not counted
    explained = [c for c in code if "check" not in c.get("metadata", {}).get("tags", [])]
    n_md, n_code = len(md), len(explained)
    assert n_md >= n_code, f"{path.name}: fewer markdown cells ({n_md}) than code cells ({n_code})"
    setup = [c for c in code if "lt.set_seed" in text(c) and "lt.get_device" in text(c)]
    assert setup, f"{path.name}: no setup cell with lt.set_seed and lt.get_device"
    assert any(
        o.get("output_type") == "display_data" and "image/png" in o.get("data", {}) for c in code for o in c["outputs"]
    ), f"{path.name}: no figure"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_exercises_have_solution_and_check_cells(path):
    cells = load(path)["cells"]
    solutions = [c for c in cells if "solution" in c.get("metadata", {}).get("tags", [])]
    checks = [c for c in cells if "check" in c.get("metadata", {}).get("tags", [])]
    assert len(solutions) >= 3 and len(checks) >= 3, f"{path.name}: needs >= 3 exercises"
    for c in solutions:
        src = text(c)
        assert "### BEGIN SOLUTION" in src and "### END SOLUTION" in src, f"{path.name}: solution without markers"
        assert "hide-input" in c["metadata"]["tags"], f"{path.name}: solution cell must be collapsed on the site"
        assert c["metadata"].get("nbgrader", {}).get("solution") is True
    for c in checks:
        assert "lt.check(" in text(c) and "nbval-check-output" in c["metadata"]["tags"]
        out = "".join("".join(o.get("text", "") or o.get("data", {}).get("text/plain", "")) for o in c["outputs"])
        assert "✓" in out, f"{path.name}: a check cell does not show a passing solution: {out[:200]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_test_markers_are_cell_tags_not_code(path):
    """Readers copy code cells: nbval's markers are cell tags, never comments in the code."""
    for i, c in enumerate(code_cells(load(path))):
        assert "NBVAL_" not in text(c), f"{path.name}: code cell {i} has an NBVAL comment; use the cell tag"
        tags = c.get("metadata", {}).get("tags", [])
        assert not {"nbval-check-output", "nbval-ignore-output"} <= set(tags), f"{path.name}: cell {i} has both tags"


def site_url() -> str:
    """The website's address, built from the one repository setting: https://<owner>.github.io/<repo>/."""
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    owner, repo = url.removeprefix("https://github.com/").split("/")
    return f"https://{owner}.github.io/{repo}/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_links_to_book_pages_work_in_colab(path):
    """A relative ../book/*.md link breaks in Colab: book pages are linked by the site's URL."""
    site, pages = site_url(), {p.stem for p in (ROOT / "book").glob("*.md")}
    for cell in load(path)["cells"]:
        if cell["cell_type"] != "markdown":
            continue
        src = text(cell)
        assert "](../book/" not in src, f"{path.name}: relative link to a book page; use {site}book/<page>.html"
        for page in re.findall(r"https://[\w.-]+\.github\.io/[\w.-]+/book/(\w+)\.html", src):
            assert f"{site}book/{page}.html" in src, f"{path.name}: book links must start with {site}"
            assert page in pages, f"{path.name}: links to book/{page}.html, which does not exist"
        assert ":::{" not in src and "{doc}`" not in src, f"{path.name}: MyST-only markup shows as raw text in Colab"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_colab_link_and_install_cell_follow_the_repository_setting(path):
    """A fork changes repository.url in _config.yml; this test then names every line to update."""
    url = yaml.safe_load((ROOT / "_config.yml").read_text())["repository"]["url"].rstrip("/")
    repo = url.removeprefix("https://github.com/")
    cells = load(path)["cells"]
    colab = f"https://colab.research.google.com/github/{repo}/blob/main/notebooks/{path.name}"
    assert colab in text(cells[0]), f"{path.name}: the title cell should link to {colab}"
    install = [text(c) for c in cells if c["cell_type"] == "code" and "%pip install" in text(c)]
    assert install and f'"lmtutor[book] @ git+{url}"' in install[0], f"{path.name}: install cell must use {url}"


def test_every_chapter_named_exists():
    """A "chapter N" in a notebook's text or on a book page must point to a chapter that is in the book."""
    have = {int(p.name[:2]) for p in NOTEBOOKS}
    pages = [(p.name, [text(c) for c in load(p)["cells"] if c["cell_type"] == "markdown"]) for p in NOTEBOOKS]
    pages += [(p.name, [p.read_text(encoding="utf-8")]) for p in (ROOT / "book").glob("*.md")]
    missing = sorted(
        {(name, int(m)) for name, texts in pages for t in texts for m in re.findall(r"[Cc]hapters? (\d{1,2})\b", t)}
        - {(name, n) for name, _ in pages for n in have}
    )
    assert not missing, f"references to chapters that do not exist: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_has_alt_text(path):
    """The site shows a figure with the text of the cell's mystnb.image.alt: say what the figure shows."""
    for i, c in enumerate(code_cells(load(path))):
        if any("image/png" in o.get("data", {}) for o in c["outputs"]):
            alt = c.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt", "")
            assert len(alt.split()) >= 4, f"{path.name}: code cell {i} draws a figure without alt text"
