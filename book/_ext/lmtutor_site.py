"""Sphinx extension of the lmtutor website: one copy of every script on a page, and a stylesheet.

Scripts: Sphinx 7.4 adds an inline script that an extension registers after the builder started (as
sphinx-thebe does with ``const THEBE_JS_URL = ...``) twice to every page; the second copy throws
"Identifier has already been declared" in the browser. This extension removes such duplicates.

Stylesheet: ``static/lmtutor.css`` (next to this file) is added to every page; it keeps the pages
within a phone's width (long inline code wraps, code and tables scroll inside their own box).

Loaded from ``_config.yml`` (``sphinx.local_extensions``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

STATIC = Path(__file__).resolve().parent / "static"
STYLESHEET = "lmtutor.css"


def _script_key(script: Any) -> tuple:
    """Identity of a script entry: file name (None and "" alike), priority and attributes."""
    filename = getattr(script, "filename", script) or ""
    attributes = getattr(script, "attributes", {}) or {}
    return str(filename), getattr(script, "priority", 500), tuple(sorted((k, str(v)) for k, v in attributes.items()))


def drop_duplicate_scripts(app: Any, pagename: str, templatename: str, context: dict, doctree: Any) -> None:
    """Keep the first of identical script entries of a page (the list is rebuilt for every page)."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for script in scripts:
        key = _script_key(script)
        if key not in seen:
            seen.add(key)
            unique.append(script)
    scripts[:] = unique


def add_static_path(app: Any, config: Any) -> None:
    """Serve ``static/`` of this extension with the site (its files land in ``_static/``)."""
    if str(STATIC) not in [str(p) for p in config.html_static_path]:
        config.html_static_path.append(str(STATIC))


def setup(app: Any) -> dict:
    """Register the page hook and the stylesheet; safe for parallel builds."""
    app.connect("config-inited", add_static_path)
    app.add_css_file(STYLESHEET)
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
