"""Headless Chromium for the page's tests: the system's browser (Debian's `chromium`), driven by
Playwright's Python package through `executable_path`, so nothing is downloaded. Where the
browser or the package is missing the tests skip, and the run's header says so in a loud line
(conftest.py's `pytest_report_header`)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]
DOCS = Path(__file__).parent.parent / "docs" / "web"


def chromium_path() -> str | None:
    """MOSAICGAN_CHROMIUM, else chromium / chromium-browser on the PATH."""
    named = os.environ.get("MOSAICGAN_CHROMIUM")
    if named:
        return named if Path(named).is_file() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def why_no_browser() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install 'mosaicgan[dev]')"
    try:
        import fastapi  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        return "the web extra is missing (pip install 'mosaicgan[web]')"
    if chromium_path() is None:
        return "no Chromium found (apt-get install chromium, or set MOSAICGAN_CHROMIUM)"
    return None


def chromium_version() -> str:
    try:
        out = subprocess.run([chromium_path(), "--version"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return "unknown version"
    return out.strip() or "unknown version"


def screenshot(page, name: str, tmp_path: Path) -> Path:
    """A screenshot of the page, into the docs when MOSAICGAN_SCREENSHOTS=docs
    (scripts/web_screenshots.sh), else beside the test's files."""
    folder = DOCS if os.environ.get("MOSAICGAN_SCREENSHOTS") == "docs" else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jpg"  # photos on the page: JPEG keeps the docs light
    page.screenshot(path=str(path), full_page=True, type="jpeg", quality=70)
    return path
