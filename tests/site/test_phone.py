"""Every page of the built website on a phone screen (390 × 844 CSS pixels): nothing wider than the screen.

Wide tables, code cells, outputs and formulas must scroll inside their own box, and long inline code
and URLs must wrap, so that the page itself never scrolls sideways. The stylesheet that does this is
``book/_ext/static/lmtutor.css``.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.site

PHONE = {"width": 390, "height": 844}
TOLERANCE_PX = 2  # sub-pixel rounding of borders and scrollbars
TIMEOUT_MS = 20_000

# Formulas change width when MathJax typesets them: wait for it where the page has any.
TYPESET = """async () => {
  if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
    await window.MathJax.startup.promise;
  }
}"""

# Elements that stick out past the right edge of the screen and are not inside a box that scrolls or
# clips: what makes the page wider (for the failure message).
STICKING_OUT = """(width) => {
  const inScrollBox = (el) => {
    for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible') return true;
    }
    return false;
  };
  const found = [];
  for (const el of document.querySelectorAll('.bd-article *')) {
    const box = el.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 1 && !inScrollBox(el)) {
      if (found.length && found[found.length - 1].el.contains(el)) continue;  // report the outermost only
      const text = (el.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 60);
      const name = `<${el.tagName.toLowerCase()} class="${el.className}">`;
      found.push({ el, text: `${name} right edge ${Math.round(box.right)} px: ${text}` });
    }
  }
  return found.map((f) => f.text);
}"""

# Boxes whose content is wider than the box: they must let the reader scroll (overflow-x auto or
# scroll), not cut the content off.
CUT_OFF = """() => {
  const boxes = document.querySelectorAll(
    '.bd-article pre, .bd-article .pst-scrollable-table-container, .bd-article div.cell_output .output');
  return Array.from(boxes)
    .filter((b) => b.scrollWidth > b.clientWidth + 1)
    .filter((b) => !['auto', 'scroll'].includes(getComputedStyle(b).overflowX))
    .map((b) => `<${b.tagName.toLowerCase()} class="${b.className}"> overflow-x ${getComputedStyle(b).overflowX}`);
}"""


def test_page_fits_a_phone_screen(page, site_url: str, toc_doc: str) -> None:
    page.set_viewport_size(PHONE)
    page.goto(f"{site_url}{toc_doc}.html", wait_until="load", timeout=TIMEOUT_MS)
    page.wait_for_load_state("networkidle", timeout=TIMEOUT_MS)
    page.evaluate(TYPESET)

    width = page.evaluate("() => document.documentElement.scrollWidth")
    limit = PHONE["width"] + TOLERANCE_PX
    assert width <= limit, (
        f"{toc_doc}: the page is {width} px wide on a {PHONE['width']} px phone screen; "
        f"sticking out: {page.evaluate(STICKING_OUT, PHONE['width'])[:5]}"
    )
    cut = page.evaluate(CUT_OFF)
    assert not cut, f"{toc_doc}: boxes whose content is cut off instead of scrolling: {cut[:5]}"
    assert not page.console_errors, f"{toc_doc}: errors in the browser console: {page.console_errors}"
