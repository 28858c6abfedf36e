"""Fixtures of the website tests: build the book once, serve it locally, open it in headless Chromium.

Fixtures (other site tests rely on these names):

- ``built_site`` (session): runs ``jupyter-book build <repo> --path-output <tmp> -W -n --keep-going``,
  asserts a zero exit code and no ``WARNING`` line, and returns the HTML folder.
- ``site_url`` (session): ``"http://127.0.0.1:<port>/"`` of a local HTTP server for that folder.
- ``browser`` (session): headless Chromium (the system's ``chromium``) through Playwright. Skipped
  when Playwright or Chromium is missing, unless ``LMTUTOR_REQUIRE_BROWSER=1`` (CI): then it fails.
- ``page`` (function): a fresh page that may load only from 127.0.0.1. Blocked requests are
  recorded in ``page.outside_requests``; console errors and uncaught exceptions in
  ``page.console_errors`` (the exceptions alone also in ``page.page_errors``).

``LMTUTOR_SITE_SOURCE`` may name another checkout of the book to build instead of this repository.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
LOCAL_SCHEMES = {"data", "blob", "about"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Numbers for the summary printed at the end of the run.
SUMMARY: dict[str, object] = {"pages_opened": set(), "outside_requests": set()}


def site_source() -> Path:
    """The book to build: ``$LMTUTOR_SITE_SOURCE`` or this repository."""
    return Path(os.environ.get("LMTUTOR_SITE_SOURCE", REPO)).resolve()


def read_yaml(name: str) -> dict:
    """``_toc.yml`` or ``_config.yml`` of the book under test."""
    return yaml.safe_load((site_source() / name).read_text(encoding="utf-8"))


def toc_files() -> list[str]:
    """Every document of ``_toc.yml`` (root first), without extension, e.g. ``notebooks/05_self_attention``."""
    toc = read_yaml("_toc.yml")
    files = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries or []:
            if "file" in entry:
                files.append(entry["file"])
            walk(entry.get("sections", []))

    for part in toc.get("parts", []):
        walk(part.get("chapters", []))
    walk(toc.get("chapters", []))
    return [str(Path(f).with_suffix("")) if Path(f).suffix in {".md", ".ipynb"} else f for f in files]


def chapter_docs() -> list[str]:
    """The chapters of ``_toc.yml``: its notebooks (``notebooks/NN_topic``)."""
    return [d for d in toc_files() if d.startswith("notebooks/") or (site_source() / f"{d}.ipynb").exists()]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``toc_doc`` with every document of ``_toc.yml`` and ``chapter_doc`` with the notebooks."""
    if "toc_doc" in metafunc.fixturenames:
        metafunc.parametrize("toc_doc", toc_files())
    if "chapter_doc" in metafunc.fixturenames:
        metafunc.parametrize("chapter_doc", chapter_docs())


@pytest.fixture(scope="session")
def book_source() -> Path:
    """The folder of the book under test (``_config.yml``, ``_toc.yml``, ``notebooks/``)."""
    return site_source()


@pytest.fixture(scope="session")
def toc_docs() -> list[str]:
    """Every document of ``_toc.yml``, the root first."""
    return toc_files()


@pytest.fixture(scope="session")
def book_config() -> dict:
    """The book's ``_config.yml``."""
    return read_yaml("_config.yml")


def warning_lines(log: str) -> list[str]:
    """The lines of a build log that report a warning (colour codes removed)."""
    return [line for line in _ANSI.sub("", log).splitlines() if "WARNING" in line]


def _jupyter_book() -> str:
    beside_python = Path(sys.executable).with_name("jupyter-book")
    found = str(beside_python) if beside_python.exists() else shutil.which("jupyter-book")
    if not found:
        pytest.fail("jupyter-book is not installed; `pip install -r requirements.txt` installs it")
    return found


@pytest.fixture(scope="session")
def build_result(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Build the book once: exit code, log, seconds and the HTML folder."""
    out = tmp_path_factory.mktemp("book")
    cmd = [_jupyter_book(), "build", str(site_source()), "--path-output", str(out), "-W", "-n", "--keep-going"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}  # the build executes nothing; never wait on the hub
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    seconds = time.perf_counter() - start
    SUMMARY["build_seconds"] = seconds
    print(f"\nsite: jupyter-book build took {seconds:.1f} s")
    return {
        "returncode": proc.returncode,
        "log": proc.stdout + proc.stderr,
        "seconds": seconds,
        "html": out / "_build" / "html",
    }


@pytest.fixture(scope="session")
def built_site(build_result: dict) -> Path:
    """The HTML folder of a build with exit code 0 and no warnings."""
    warnings = warning_lines(build_result["log"])
    assert not warnings, f"the build printed {len(warnings)} warning(s):\n" + "\n".join(warnings)
    assert build_result["returncode"] == 0, (
        f"jupyter-book build exited with {build_result['returncode']}:\n{build_result['log'][-4000:]}"
    )
    html = build_result["html"]
    assert (html / "index.html").exists(), f"the build wrote no index.html into {html}"
    return html


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean: no line per request."""


@pytest.fixture(scope="session")
def site_url(built_site: Path) -> Iterator[str]:
    """Serve the built site on 127.0.0.1 (a free port) from a background thread."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _unavailable(reason: str) -> None:
    if os.environ.get("LMTUTOR_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (LMTUTOR_REQUIRE_BROWSER=1, so the browser test may not be skipped)")
    pytest.skip(reason)


def _chromium() -> str | None:
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Chromium of the system, driven by Playwright's sync API."""
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: `pip install -r requirements.txt` installs it")
    executable = _chromium()
    if executable is None:
        _unavailable("chromium is not installed (Debian/Ubuntu: `sudo apt-get install chromium`)")
    pw = sync_playwright().start()
    try:
        chromium = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
    except PlaywrightError as err:
        pw.stop()
        _unavailable(f"chromium at {executable} did not start: {str(err).splitlines()[0]}")
    try:
        yield chromium
    finally:
        chromium.close()
        pw.stop()


def is_local(url: str) -> bool:
    """True for the local server and for in-page URLs (data:, blob:, about:)."""
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname in LOCAL_HOSTS


@pytest.fixture()
def page(browser: object) -> Iterator[object]:
    """A new page that may load only from 127.0.0.1; what it tried elsewhere and its errors are recorded."""
    context = browser.new_context(service_workers="block")
    pg = context.new_page()
    pg.outside_requests = []
    pg.console_errors = []
    pg.page_errors = []

    def route(route: object) -> None:
        url = route.request.url
        if is_local(url):
            route.continue_()
        else:
            pg.outside_requests.append(url)
            SUMMARY["outside_requests"].add(url)
            route.abort("blockedbyclient")

    def on_console(message: object) -> None:
        if message.type == "error":
            pg.console_errors.append(message.text)

    def on_page_error(error: object) -> None:
        pg.console_errors.append(f"uncaught exception: {error}")
        pg.page_errors.append(str(error))

    pg.route("**/*", route)
    pg.on("console", on_console)
    pg.on("pageerror", on_page_error)
    pg.on("load", lambda loaded: SUMMARY["pages_opened"].add(urlsplit(loaded.url).path))
    try:
        yield pg
    finally:
        context.close()


def pytest_terminal_summary(terminalreporter: object) -> None:
    """One line with the build time, the pages opened and any request that left the machine."""
    if "build_seconds" not in SUMMARY and not SUMMARY["pages_opened"]:
        return
    parts = []
    if "build_seconds" in SUMMARY:
        parts.append(f"build {SUMMARY['build_seconds']:.1f} s")
    parts.append(f"{len(SUMMARY['pages_opened'])} distinct page(s) opened in chromium")
    outside = sorted(SUMMARY["outside_requests"])
    parts.append(f"{len(outside)} request(s) outside 127.0.0.1 blocked")
    terminalreporter.write_sep("-", "site: " + ", ".join(parts))
    for url in outside:
        terminalreporter.write_line(f"  blocked: {url}")
