"""Sphinx extension of the lmtutor website: one copy of every script on a page.

Sphinx 7.4 adds an inline script that an extension registers after the builder started (as
sphinx-thebe does with ``const THEBE_JS_URL = ...``) twice to every page; the second copy throws
"Identifier has already been declared" in the browser. This extension removes such duplicates.
Loaded from ``_config.yml`` (``sphinx.local_extensions``).
"""

from __future__ import annotations

from typing import Any


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


def setup(app: Any) -> dict:
    """Register the page hook; safe for parallel builds."""
    app.connect("html-page-context", drop_duplicate_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
