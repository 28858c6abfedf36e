"""The built website: no warnings, every page of the table of contents, figures, launch buttons, exercises."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from bs4 import BeautifulSoup

pytestmark = pytest.mark.site


def soup_of(path: Path) -> BeautifulSoup:
    """Parsed HTML of a built page."""
    assert path.exists(), f"the build did not write {path.name}"
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def article_of(path: Path):
    """The main content of a page (without the sidebars and the header)."""
    article = soup_of(path).find("article")
    assert article is not None, f"{path.name} has no <article> (main content)"
    return article


def notebook_of(book_source: Path, doc: str) -> dict:
    """The committed notebook of a chapter."""
    return json.loads((book_source / f"{doc}.ipynb").read_text(encoding="utf-8"))


def tagged_cells(nb: dict, tag: str) -> list[dict]:
    """Code cells that carry ``tag`` in their metadata."""
    return [c for c in nb["cells"] if c["cell_type"] == "code" and tag in c.get("metadata", {}).get("tags", [])]


def chapter_title(nb: dict) -> str:
    """The text of the notebook's first ``# `` heading."""
    for cell in nb["cells"]:
        if cell["cell_type"] == "markdown":
            for line in "".join(cell["source"]).splitlines():
                if line.startswith("# "):
                    return line[2:].strip()
    raise AssertionError("the notebook has no '# ' title")


def resolve_local(built_site: Path, page: Path, href: str) -> Path | None:
    """The file a relative link of ``page`` points to, or None for an external or pure-fragment link."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    target = (page.parent / unquote(parts.path)).resolve()
    if target.is_dir():
        target = target / "index.html"
    return target


def test_build_succeeds_without_warnings(build_result: dict, built_site: Path) -> None:
    log = build_result["log"]
    assert "build succeeded." in log, f"Sphinx did not report a clean build:\n{log[-3000:]}"
    assert re.search(r"\d+ warnings?", log) is None, "the build log counts warnings"


def test_root_redirects_to_the_introduction(built_site: Path, toc_docs: list[str]) -> None:
    index = (built_site / "index.html").read_text(encoding="utf-8")
    assert f"url={toc_docs[0]}.html" in index, f"index.html does not lead to the root page {toc_docs[0]}"


def test_every_toc_page_is_built(built_site: Path, toc_doc: str) -> None:
    page = built_site / f"{toc_doc}.html"
    assert page.exists(), f"_toc.yml lists {toc_doc} but the build has no {toc_doc}.html"
    title = soup_of(page).find("h1")
    assert title is not None and title.get_text(strip=True).strip("#"), f"{toc_doc}.html has no <h1> title"


def test_chapter_page_has_title_figures_and_colab_button(
    built_site: Path, book_source: Path, book_config: dict, chapter_doc: str
) -> None:
    page = built_site / f"{chapter_doc}.html"
    article = article_of(page)
    title = chapter_title(notebook_of(book_source, chapter_doc))
    h1 = article.find("h1")
    assert h1 is not None and title in h1.get_text(), f"{chapter_doc}: <h1> does not show the title {title!r}"

    images = [img["src"] for img in article.find_all("img") if img.get("src")]
    assert images, f"{chapter_doc}: no figure on the page (the committed notebook needs its outputs)"
    for src in images:
        if not src.startswith("data:"):
            target = resolve_local(built_site, page, src)
            assert target is not None and target.exists(), f"{chapter_doc}: image {src} is missing from the build"

    repo = book_config["repository"]
    owner_repo = urlsplit(repo["url"]).path.strip("/").removesuffix(".git")
    prefix = f"{repo['path_to_book'].strip('/')}/" if repo.get("path_to_book") else ""
    colab = f"https://colab.research.google.com/github/{owner_repo}/blob/{repo.get('branch', 'main')}/"
    colab += f"{prefix}{chapter_doc}.ipynb"
    hrefs = {a["href"] for a in soup_of(page).find_all("a", href=True)}
    assert colab in hrefs, f"{chapter_doc}: no Colab launch button to {colab}"


def cells_on_page(built_site: Path, book_source: Path, chapter_doc: str, tag: str) -> list:
    """The page's cells tagged ``tag``, after checking there are as many as in the notebook (at least one)."""
    expected = len(tagged_cells(notebook_of(book_source, chapter_doc), tag))
    assert expected >= 1, f"{chapter_doc}: the notebook has no {tag} cell (every chapter has exercises)"
    cells = article_of(built_site / f"{chapter_doc}.html").select(f"div.cell.tag_{tag}")
    assert len(cells) == expected, f"{chapter_doc}: {expected} {tag} cells in the notebook, {len(cells)} on the page"
    return cells


def test_solutions_are_folded(built_site: Path, book_source: Path, chapter_doc: str) -> None:
    cells = cells_on_page(built_site, book_source, chapter_doc, "solution")
    for i, cell in enumerate(cells, 1):
        code = cell.select_one(".cell_input")
        assert code is not None, f"{chapter_doc}: solution cell {i} lost its code"
        details = code.find_parent("details")
        assert details is not None and details.find("summary") is not None, (
            f"{chapter_doc}: solution cell {i} is not inside a toggle (tag it 'hide-input')"
        )
        assert not details.has_attr("open"), f"{chapter_doc}: solution cell {i} is unfolded by default"


def test_checks_show_their_tick(built_site: Path, book_source: Path, chapter_doc: str) -> None:
    cells = cells_on_page(built_site, book_source, chapter_doc, "check")
    for i, cell in enumerate(cells, 1):
        output = cell.select_one(".cell_output")
        assert output is not None, f"{chapter_doc}: check cell {i} has no output on the page"
        assert "✓" in output.get_text(), f"{chapter_doc}: check cell {i} does not print ✓: {output.get_text()[:200]!r}"
        assert output.find_parent("details") is None, f"{chapter_doc}: the output of check cell {i} is folded away"


def test_search_page_and_index_cover_the_book(built_site: Path, toc_docs: list[str]) -> None:
    assert (built_site / "search.html").exists(), "the build has no search page"
    index = (built_site / "searchindex.js").read_text(encoding="utf-8")
    data = json.loads(index[index.index("(") + 1 : index.rindex(")")])
    missing = sorted(set(toc_docs) - set(data["docnames"]))
    assert not missing, f"the search index lacks {missing}"


def test_errata_links_resolve(built_site: Path) -> None:
    page = built_site / "book" / "errata.html"
    links = [a["href"] for a in article_of(page).find_all("a", href=True)]
    local = {href: resolve_local(built_site, page, href) for href in links}
    local = {href: target for href, target in local.items() if target is not None}
    broken = sorted(href for href, target in local.items() if not target.exists())
    assert not broken, f"errata links to missing files: {broken}"
    chapters = {t.name for t in local.values() if t.parent.name == "notebooks"}
    assert len(chapters) >= 5, f"the errata page should link the chapters that correct the sources; links: {chapters}"
