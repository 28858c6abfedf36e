"""The interactive attention views in headless Chromium: on the built chapter-5 page, from a file, at 512 tokens.

Each test checks that a view renders (canvas with ink, one element per token), that hovering or
clicking a token changes the highlighted weights, and that nothing is requested from outside
127.0.0.1 (or, for the saved file, from anywhere).
"""

from __future__ import annotations

import re

import pytest
import torch

import lmtutor as lt

pytestmark = pytest.mark.site

CHAPTER = "notebooks/05_self_attention.html"
TIMEOUT_MS = 30_000
ALL_READY = """() => {
  const views = Array.from(document.querySelectorAll('.lmt-attn'));
  return views.length > 0 && views.every((v) => v.dataset.ready === '1');
}"""
KEY_WEIGHTS = "(v) => Array.from(v.querySelectorAll('[data-k]'), (t) => t.getAttribute('data-weight'))"
INK = """(v, selector) => {
  const c = v.querySelector(selector);
  const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let ink = 0;  // pixels that are neither transparent nor white
  for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0 && Math.min(px[i], px[i + 1], px[i + 2]) < 250) ink++;
  return ink;
}"""


def weights(view) -> list[str]:
    """The data-weight attribute of every key token ('' when no token is selected)."""
    return view.evaluate(KEY_WEIGHTS)


def as_floats(values: list[str]) -> list[float]:
    assert all(values), "every key should carry a weight after a query was chosen"
    return [float(v) for v in values]


def open_views(page, url: str) -> None:
    page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
    page.wait_for_function(ALL_READY, timeout=TIMEOUT_MS)


def query(view, text: str):
    return view.locator("[data-q]", has_text=re.compile(rf"^{re.escape(text)}$")).first


def test_head_view_on_the_built_chapter_renders_and_responds(page, site_url):
    open_views(page, site_url + CHAPTER)
    view = page.locator(".lmt-attn").first
    n_queries, n_keys = view.locator("[data-q]").count(), view.locator("[data-k]").count()
    assert n_queries == n_keys >= 16, "one element per token on each side"
    assert query(view, "animal").count() == 1 and query(view, "[CLS]").count() == 1
    assert view.evaluate(INK, ".lmt-canvas") > 200, "the attention lines were not drawn"
    assert set(weights(view)) == {""}, "nothing is highlighted before a token is chosen"

    query(view, "it").hover()
    from_it = as_floats(weights(view))
    assert abs(sum(from_it) - 1.0) < 0.05, "the shaded weights of one query are a distribution"
    assert max(from_it) > 0.3
    query(view, "cross").hover()
    assert as_floats(weights(view)) != from_it, "hovering another token must change the highlighted weights"

    query(view, "it").click()  # pin, then move away: the selection stays
    page.mouse.move(1, 1)
    assert as_floats(weights(view)) == from_it
    view.locator("select[data-role=layer]").select_option("0")
    assert as_floats(weights(view)) != from_it, "another layer has other weights"
    assert page.outside_requests == []
    assert page.page_errors == []


def test_model_view_on_the_built_chapter_opens_the_clicked_head(page, site_url):
    open_views(page, site_url + CHAPTER)
    view = page.locator(".lmt-attn").filter(has=page.locator(".lmt-grid")).first
    thumbs = view.locator("canvas.lmt-thumb")
    assert thumbs.count() == 6 * 12
    assert view.evaluate(INK, "canvas.lmt-thumb[data-layer='2'][data-head='5']") > 20
    view.locator("canvas.lmt-thumb[data-layer='4'][data-head='7']").click()
    assert "layer 4 · head 7" in view.locator(".lmt-status").inner_text()
    assert view.locator("select[data-role=layer]").input_value() == "4"
    before = weights(view)
    view.locator("[data-q]").nth(3).hover()
    assert before != weights(view)
    assert page.outside_requests == []


def test_saved_page_works_from_disk_with_no_network(browser, tmp_path):
    tokenizer, model = lt.pretrained.load_minilm()
    data = lt.viz.attention_from_hf(model, tokenizer, "The animal didn't cross the street.", "It was tired.")
    path = lt.viz.head_view(data, layer=3, head=1).save(tmp_path / "attention.html")
    context = browser.new_context(offline=True)
    requests: list[str] = []
    context.on("request", lambda request: requests.append(request.url))
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    try:
        open_views(page, path.as_uri())
        view = page.locator(".lmt-attn").first
        query(view, "animal").hover()
        first = as_floats(weights(view))
        query(view, "street").hover()
        assert as_floats(weights(view)) != first
        view.locator("select[data-role=pair]").select_option("BA")  # sentence B -> sentence A
        assert view.locator("[data-q]").count() == len(data.tokens) - data.segment_b_start
    finally:
        context.close()
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
    assert errors == []


# How JupyterLab shows an HTML output: innerHTML, then every <script> re-created so that it runs.
INSERT_LIKE_JUPYTERLAB = """([html, hostId]) => {
  const host = document.getElementById(hostId);
  host.innerHTML = html;
  for (const old of Array.from(host.querySelectorAll('script'))) {
    const fresh = document.createElement('script');
    for (const attr of Array.from(old.attributes)) fresh.setAttribute(attr.name, attr.value);
    fresh.textContent = old.textContent;
    old.replaceWith(fresh);
  }
}"""


def test_views_inserted_like_jupyterlab_work_side_by_side(browser):
    html = lt.viz.head_view(torch.randn(2, 3, 5, 5).softmax(-1), tokens=list("abcde")).html()
    context = browser.new_context(offline=True)
    page = context.new_page()
    try:
        page.set_content('<div id="cell-1"></div><div id="cell-2"></div>')
        for host in ("cell-1", "cell-2"):  # the same output twice: same element ids, each view must find its own
            page.evaluate(INSERT_LIKE_JUPYTERLAB, [html, host])
        page.wait_for_function(ALL_READY, timeout=TIMEOUT_MS)
        first, second = page.locator("#cell-1 .lmt-attn"), page.locator("#cell-2 .lmt-attn")
        second.locator("[data-q='2']").hover()
        assert set(weights(first)) == {""} and all(weights(second))
    finally:
        context.close()


def test_512_tokens_render_fast_and_stay_responsive(browser, tmp_path, shakespeare):
    tokenizer, model = lt.pretrained.load_minilm()
    data = lt.viz.attention_from_hf(model, tokenizer, shakespeare[:4000])
    assert data.shape == (6, 12, 512, 512)
    context = browser.new_context(offline=True, viewport={"width": 1200, "height": 900})
    page = context.new_page()
    timings = {}
    try:
        for name, view in (("head view", lt.viz.head_view(data, layer=2)), ("model view", lt.viz.model_view(data))):
            open_views(page, view.save(tmp_path / f"{name}.html").as_uri())
            root = page.locator(".lmt-attn").first
            assert root.locator(".lmt-lines").count() == 0, "512 tokens must not be drawn as two label columns"
            assert root.locator("[data-q]").count() == 512
            assert root.evaluate(INK, "canvas.lmt-matcanvas") > 1000
            root.locator("[data-q]").nth(40).hover()
            first = weights(root)
            root.locator("[data-q]").nth(41).hover()
            assert weights(root) != first
            load = page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
            draw, redraw = float(root.get_attribute("data-render-ms")), float(root.get_attribute("data-last-draw-ms"))
            timings[name] = {"page load ms": round(load), "first draw ms": draw, "redraw ms": redraw}
    finally:
        context.close()
    print("\n512-token MiniLM views in headless Chromium:", timings)
    for t in timings.values():
        assert t["first draw ms"] < 5000 and t["redraw ms"] < 500
