#!/usr/bin/env bash
# The screenshots of docs/web.md, taken by the page's browser tests (tests/test_web_browser.py)
# in the system's headless Chromium: MOSAICGAN_SCREENSHOTS=docs makes them write into docs/web/.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
MOSAICGAN_SCREENSHOTS=docs "$PY" -m pytest tests/test_web_browser.py -q -p no:cacheprovider "$@"
ls -l docs/web/
