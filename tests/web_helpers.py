"""Shared pieces of the web tests: an app on a work folder, files to upload."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the web extra is not installed (pip install 'mosaicgan[web]')")

HOST = "127.0.0.1"
PORT = 8765
ORIGIN = f"http://{HOST}:{PORT}"


@contextlib.contextmanager
def web_client(work: Path, **settings):
    """A TestClient of the app on `work`, addressed as the served address; the state is closed
    (jobs cancelled, session folder deleted) on the way out."""
    from fastapi.testclient import TestClient

    from mosaicgan.web.app import create_app
    from mosaicgan.web.settings import ServeSettings
    from mosaicgan.web.state import WebState

    s = ServeSettings(work=work, host=HOST, port=PORT, **settings)
    state = WebState(s)
    try:
        with TestClient(create_app(s, state=state), base_url=ORIGIN) as client:
            client.state = state
            yield client
    finally:
        state.close()


def post_file(client, path: Path, *, name: str | None = None, body: bytes | None = None, **kwargs):
    data = path.read_bytes() if body is None else body
    return client.post("/api/uploads", params={"name": name or path.name}, content=data,
                       headers={"origin": ORIGIN, **kwargs.pop("headers", {})}, **kwargs)


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())
