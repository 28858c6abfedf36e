"""Every page of the built website in headless Chromium: loads, shows its figures, links resolve, stays offline."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = pytest.mark.site

TIMEOUT_MS = 20_000

# Lazy images load only near the viewport: make them eager, then wait until every image has settled.
SETTLE_IMAGES = """async () => {
  const images = Array.from(document.images);
  images.forEach((img) => { if (img.loading === "lazy") img.loading = "eager"; });
  await Promise.all(images.map((img) => img.complete ? null : new Promise((done) => {
    img.addEventListener("load", done, { once: true });
    img.addEventListener("error", done, { once: true });
  })));
  return images.filter((img) => !(img.complete && img.naturalWidth > 0)).map((img) => img.src);
}"""

# Formulas: wait until MathJax (served by the site itself) has typeset the page; count results and TeX errors.
TYPESET_MATH = """async () => {
  if (!document.querySelector(".math")) return null;
  if (!window.MathJax || !window.MathJax.startup) return { rendered: 0, errors: -1 };
  await window.MathJax.startup.promise;
  return {
    rendered: document.querySelectorAll("mjx-container").length,
    errors: document.querySelectorAll("mjx-merror, [data-mjx-error]").length,
  };
}"""

LINKS = "() => Array.from(document.querySelectorAll('a[href]'), (a) => [a.getAttribute('href'), a.href])"


def open_page(page, url: str):
    """Go to ``url``, wait until the network is idle; return the response."""
    response = page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
    page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    return response


def file_for(built_site: Path, site_url: str, url: str) -> Path:
    """The file of the built site that a URL of the local server serves."""
    path = unquote(urlsplit(url).path)
    root = urlsplit(site_url).path
    relative = path[len(root) :] if path.startswith(root) else path.lstrip("/")
    target = built_site / relative
    return target / "index.html" if relative == "" or relative.endswith("/") or target.is_dir() else target


def has_anchor(html_file: Path, fragment: str) -> bool:
    """Whether the page defines the id (or the old-style name) a link's fragment points to."""
    text = html_file.read_text(encoding="utf-8")
    return f'id="{fragment}"' in text or f'name="{fragment}"' in text


def test_page_renders_offline(page, site_url: str, built_site: Path, toc_doc: str) -> None:
    url = f"{site_url}{toc_doc}.html"
    response = open_page(page, url)
    assert response is not None and response.status == 200, f"{toc_doc}: HTTP {response and response.status}"

    assert page.title().strip(), f"{toc_doc}: empty <title>"
    h1 = page.locator("article h1").first
    assert h1.count() == 1 and h1.inner_text().strip(), f"{toc_doc}: no visible <h1> in the main content"

    broken_images = page.evaluate(SETTLE_IMAGES)
    assert not broken_images, f"{toc_doc}: images that did not load: {broken_images}"

    math = page.evaluate(TYPESET_MATH)
    if math is not None:
        assert math["errors"] != -1, f"{toc_doc}: the page has formulas but MathJax did not load"
        assert math["rendered"] > 0, f"{toc_doc}: the page has formulas but none was typeset"
        assert math["errors"] == 0, f"{toc_doc}: {math['errors']} formula(s) failed to typeset"

    missing, bad_anchors = [], []
    for raw, absolute in page.evaluate(LINKS):
        if raw.startswith("#") or not absolute.startswith(site_url):
            continue  # same-page fragments; external links (GitHub, Colab, papers) are not followed offline
        target = file_for(built_site, site_url, absolute)
        if not target.is_file():
            missing.append(raw)
            continue
        fragment = unquote(urlsplit(absolute).fragment)
        if fragment and target.suffix == ".html" and not has_anchor(target, fragment):
            bad_anchors.append(raw)
    assert not missing, f"{toc_doc}: links to files that do not exist: {sorted(set(missing))}"
    assert not bad_anchors, f"{toc_doc}: links to sections that do not exist: {sorted(set(bad_anchors))}"

    assert not page.outside_requests, f"{toc_doc}: the page tried to load from outside: {page.outside_requests}"
    assert not page.console_errors, f"{toc_doc}: errors in the browser console: {page.console_errors}"


def test_chapter_solution_unfolds_and_check_is_visible(page, site_url: str, chapter_doc: str) -> None:
    open_page(page, f"{site_url}{chapter_doc}.html")
    solution = page.locator("div.cell.tag_solution").first
    code = solution.locator(".cell_input")
    assert not code.is_visible(), f"{chapter_doc}: the first solution is visible before it is unfolded"
    solution.locator("summary").click()
    code.wait_for(state="visible", timeout=TIMEOUT_MS)
    tick = page.locator("div.cell.tag_check .cell_output").first
    tick.scroll_into_view_if_needed()
    assert tick.is_visible() and "✓" in tick.inner_text(), f"{chapter_doc}: the check's ✓ is not visible"
    assert not page.console_errors, f"{chapter_doc}: errors in the browser console: {page.console_errors}"


@pytest.mark.parametrize(
    ("query", "expected_page"),
    [("attention", None), ("cross-entropy", None), ("自注意力机制", "book/glossary.html")],
)
def test_search_works_offline(page, site_url: str, query: str, expected_page: str | None) -> None:
    open_page(page, f"{site_url}search.html")
    box = page.locator(".bd-search-container input[name='q']")
    box.fill(query)
    box.press("Enter")
    results = page.locator("#search-results ul.search li")
    results.first.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert results.count() >= 1, f"no search results for {query!r}"
    hrefs = [results.nth(i).locator("a").first.get_attribute("href") for i in range(results.count())]
    if expected_page:
        assert any(h and h.split("?")[0].endswith(expected_page) for h in hrefs), (
            f"searching {query!r} does not find {expected_page}: {hrefs}"
        )
    assert not page.outside_requests, f"the search tried to load from outside: {page.outside_requests}"
    assert not page.console_errors, f"errors in the browser console while searching: {page.console_errors}"
