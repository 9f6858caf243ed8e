"""The page in a real browser: headless Chromium (the system's) driven by Playwright against a
live server on a free port (tests/web_browser.py). Skipped, with a loud header line, where
Chromium or the packages are missing."""

from __future__ import annotations

from pathlib import Path

import pytest
from web_browser import CHROMIUM_FLAGS, chromium_path, screenshot, why_no_browser

if why_no_browser() is not None:
    pytest.skip(f"web browser tests: {why_no_browser()}", allow_module_level=True)

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def server(tmp_path):
    from mosaicgan.web.server import Server
    from mosaicgan.web.settings import ServeSettings

    served = Server(ServeSettings(work=tmp_path / "work", port=0)).start()
    yield served
    served.stop()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(server.url)
    page.wait_for_selector("body[data-ready='1']")
    yield page
    context.close()
    assert errors == [], errors  # no script error on the page


def boxes(page, cls: str) -> int:
    return page.locator(f"#add-overlay .box.{cls}").count()


def test_review_faces_threshold_keep_and_add_without_a_second_pass(page, tmp_path):
    page.set_input_files("#add-files", str(FIXTURES / "face.jpg"))
    page.wait_for_selector("#add-overlay .box.cover")
    assert boxes(page, "cover") == 4 and "4 faces at 0.35" in page.inner_text("#add-count")
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    slider = page.locator("#add-threshold")
    slider.fill("0.95")  # every face scores below 0.95 here: the boxes go at once
    assert boxes(page, "cover") == 0 and "0 faces at 0.95" in page.inner_text("#add-count")
    slider.fill("0.35")
    assert boxes(page, "cover") == 4
    assert not [u for u in requests if "/faces" in u or "/uploads" in u]  # the cached detections only
    # Keep one face visible: click its box.
    page.locator("#add-overlay .box[data-index='1']").click()
    assert boxes(page, "kept") == 1 and boxes(page, "cover") == 3 and "1 kept visible" in page.inner_text("#add-count")
    # Add a box by dragging over an empty part of the picture.
    stage = page.locator("#add-stage").bounding_box()
    page.mouse.move(stage["x"] + stage["width"] * 0.42, stage["y"] + stage["height"] * 0.75)
    page.mouse.down()
    page.mouse.move(stage["x"] + stage["width"] * 0.55, stage["y"] + stage["height"] * 0.92, steps=5)
    page.mouse.up()
    assert boxes(page, "also") == 1 and "1 added" in page.inner_text("#add-count")
    screenshot(page, "review", tmp_path)


def test_a_corrupt_file_shows_the_message_in_the_page(page, tmp_path):
    bad = tmp_path / "holiday.jpg"
    bad.write_bytes((FIXTURES / "face.jpg").read_bytes()[:2000])
    page.set_input_files("#add-files", str(bad))
    message = page.locator("#message")
    message.wait_for(state="visible")
    assert "holiday.jpg" in message.inner_text() and "nothing was kept" in message.inner_text()
    assert page.locator("#add-overlay .box").count() == 0


def test_a_page_on_another_origin_cannot_drive_the_server(browser, server, tmp_path):
    """A page served elsewhere posts to the server (as a malicious site would): refused."""
    context = browser.new_context()
    other = context.new_page()
    other.goto("about:blank")
    other.set_content("<p>another site</p>")
    status = other.evaluate("""async (url) => {
        try {
          const r = await fetch(url + 'api/uploads?name=x.jpg', {method: 'POST', body: 'x', mode: 'no-cors'});
          return r.type;
        } catch (e) { return 'blocked: ' + e.message; }
    }""", server.url)
    # no-cors hides the answer from the page; the server refused it (nothing was kept).
    assert status in ("opaque",) or status.startswith("blocked")
    assert list((server.state.store.root / "uploads").iterdir()) == []
    context.close()


def test_an_eval_gallery_opens_in_the_browser(browser, tiny_run, toy_data, tmp_path):
    from mosaicgan.cli import main

    gallery = tmp_path / "eval.html"
    assert main(["eval", "--checkpoint", str(tiny_run), "--data", str(toy_data), "--json", str(tmp_path / "e.json"),
                 "--gallery", str(gallery)]) == 0
    context = browser.new_context()
    page = context.new_page()
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(gallery.as_uri())
    shown = page.evaluate("() => [...document.images].map((i) => i.complete && i.naturalWidth > 0)")
    assert shown and all(shown)
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []  # nothing fetched
    screenshot(page, "gallery", tmp_path)
    context.close()
