"""The page in a real browser: headless Chromium (the system's) driven by Playwright against a
live server on a free port (tests/web_browser.py). Skipped, with a loud header line, where
Chromium or the packages are missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import FIXTURES
from web_browser import CHROMIUM_FLAGS, chromium_path, screenshot, why_no_browser

if why_no_browser() is not None:
    pytest.skip(f"web browser tests: {why_no_browser()}", allow_module_level=True)


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


def wait_done(page, tab: str, timeout: float = 120_000):
    """Until the tab's latest job has ended (done, failed, cancelled); returns the result box's text."""
    page.wait_for_function(f"""() => ['done', 'failed', 'cancelled'].includes(
        document.querySelector('#{tab}-result').dataset.state)""", timeout=timeout)
    return page.inner_text(f"#{tab}-result")


def download(page, locator, folder: Path) -> Path:
    with page.expect_download() as info:
        locator.click()
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return path


def test_apply_and_download_the_photo_the_cli_would_write(page, tmp_path):
    from mosaicgan.cli import main

    page.set_input_files("#add-files", str(FIXTURES / "face.jpg"))
    page.wait_for_selector("#add-overlay .box.cover")
    page.click("#add-apply")
    wait_done(page, "add")
    page.wait_for_selector("#add-result img.output")
    assert page.evaluate("() => document.querySelector('#add-result img.output').naturalWidth") > 0
    screenshot(page, "add-result", tmp_path)
    got = download(page, page.locator("#add-result a.download").first, tmp_path)
    assert main(["add", str(FIXTURES / "face.jpg"), "--faces", "--out", str(tmp_path / "cli")]) == 0
    assert got.name == "face.jpg" and got.read_bytes() == (tmp_path / "cli" / "face.jpg").read_bytes()


def test_a_video_plays_in_the_page_and_downloads_with_its_audio(page, tmp_path):
    from video_clips import make_clip, read_frames

    clip = make_clip(tmp_path / "walk.mp4", width=320, height=240, frames=75, fps=25, photo_size=110, audio=True)
    page.set_input_files("#add-files", str(clip.path))
    page.wait_for_selector("#add-strip figure img")
    page.wait_for_function("() => document.querySelector('#add-count').textContent.includes('key frames')")
    assert page.locator("#add-strip figure").count() == 8
    # The face on most key frames (each strip picture gets its boxes once it has loaded).
    page.wait_for_function("() => document.querySelectorAll('#add-strip .box.cover').length >= 6")
    screenshot(page, "video-review", tmp_path)
    page.click("#add-apply")
    wait_done(page, "add")
    player = page.locator("#add-result video.output")
    player.wait_for()
    page.wait_for_function("() => document.querySelector('#add-result video.output').readyState >= 1")
    assert abs(page.evaluate("() => document.querySelector('#add-result video.output').duration") - 3.0) < 0.2
    got = download(page, page.locator("#add-result a.download").first, tmp_path)
    frames, _, facts = read_frames(got)
    assert len(frames) == 75 and facts["audio"] == ["aac"]


def test_remove_outlines_the_mosaic_and_shows_the_notice(page, tmp_path):
    from mosaicgan.cli import main

    assert main(["add", str(FIXTURES / "grace_hopper.jpg"), "--box", "61,37,131,117", "--block", "9",
                 "--out", str(tmp_path / "m")]) == 0
    page.click("[data-tab=remove]")
    assert "synthesized, not recovered" in page.inner_text("#tab-remove .notice")
    page.set_input_files("#remove-files", str(tmp_path / "m" / "grace_hopper.jpg"))
    page.wait_for_selector("#remove-overlay .box.mosaic")
    assert "1 mosaic found" in page.inner_text("#remove-count")
    page.click("#remove-apply")
    text = wait_done(page, "remove")
    assert "synthesized, not recovered" in text and "restored (synthesized)" in text
    screenshot(page, "remove", tmp_path)
    got = download(page, page.locator("#remove-result a.download").first, tmp_path)
    assert main(["remove", str(tmp_path / "m" / "grace_hopper.jpg"), "--out", str(tmp_path / "cli")]) == 0
    assert got.read_bytes() == (tmp_path / "cli" / "grace_hopper.jpg").read_bytes()


def test_a_path_traversal_name_is_refused(page, server, tmp_path):
    answers = page.evaluate("""async () => {
        const out = [];
        for (const name of ['../../evil.jpg', '/tmp/evil.jpg', '..']) {
          const r = await fetch('/api/uploads?name=' + encodeURIComponent(name), {method: 'POST', body: 'x'});
          out.push([r.status, (await r.json()).error]);
        }
        return out;
    }""")
    assert all(status == 400 and "file name refused" in error for status, error in answers), answers
    assert list((server.state.store.root / "uploads").iterdir()) == []
    assert not (tmp_path / "evil.jpg").exists() and not Path("/tmp/evil.jpg").exists()


def test_cancel_a_running_video_job(page, server, tmp_path):
    from video_clips import make_clip

    clip = make_clip(tmp_path / "long.mp4", width=640, height=360, frames=250, fps=25, audio=False)
    page.set_input_files("#add-files", str(clip.path))
    page.wait_for_selector("#add-strip figure img")
    page.click("#add-apply")
    page.wait_for_function("""() => {
        const t = document.querySelector('#add-result .job.running .text');
        return t && parseInt(t.textContent) >= 3;
    }""", timeout=120_000)
    page.click("#add-result button.cancel")
    text = wait_done(page, "add")
    assert "cancelled" in text
    page.click("[data-tab=jobs]")
    page.wait_for_selector("#jobs tbody tr")
    assert "cancelled" in page.inner_text("#jobs tbody tr")
    screenshot(page, "jobs", tmp_path)
    job = server.state.queue.list()[0]
    assert job.state == "cancelled" and job.done < 250
    out = server.state.store.root / "jobs" / job.id / "out"
    assert not out.exists() or list(out.iterdir()) == []


def test_upscale_compares_with_a_slider_and_downloads(page, tmp_path):
    page.click("[data-tab=upscale]")
    page.set_input_files("#upscale-files", str(FIXTURES / "bird.jpg"))
    page.wait_for_selector("#upscale-uploads li")
    page.click("#upscale-apply")
    wait_done(page, "upscale")
    page.wait_for_selector("#upscale-result .compare")
    after = page.locator("#upscale-result .compare .after")
    assert "50%" in after.get_attribute("style")
    page.locator("#upscale-result .compare-range").fill("20")
    assert "20%" in after.get_attribute("style")  # the slider moves the line between input and result
    screenshot(page, "upscale", tmp_path)
    got = download(page, page.locator("#upscale-result a.download").first, tmp_path)
    from PIL import Image

    with Image.open(got) as img:
        assert img.size == (320 * 4, 214 * 4)


def test_keep_one_face_add_a_box_apply_and_check_every_pixel(page, tmp_path):
    """The kept face's pixels are the input's, the other faces and the added box are covered,
    and everything else is unchanged."""
    import numpy as np
    from PIL import Image

    page.set_input_files("#add-files", str(FIXTURES / "face.jpg"))
    page.wait_for_selector("#add-overlay .box.cover")
    page.locator("#add-overlay .box[data-index='1']").click()
    stage = page.locator("#add-stage").bounding_box()
    page.mouse.move(stage["x"] + stage["width"] * 0.42, stage["y"] + stage["height"] * 0.75)
    page.mouse.down()
    page.mouse.move(stage["x"] + stage["width"] * 0.55, stage["y"] + stage["height"] * 0.92, steps=5)
    page.mouse.up()
    page.click("#add-apply")
    wait_done(page, "add")
    got = download(page, page.locator("#add-result a.download").first, tmp_path)
    upload = page.get_attribute("#add-uploads li", "data-id")
    boxes = page.evaluate(f"async () => (await (await fetch('/api/uploads/{upload}/faces')).json()).faces")
    before = np.asarray(Image.open(FIXTURES / "face.jpg").convert("RGB")).astype(int)
    after = np.asarray(Image.open(got).convert("RGB")).astype(int)
    # Writing the JPEG again (quality 95) moves a pixel by up to 13 levels (measured) where nothing
    # was covered; a cover moves most of its pixels by more.
    changed = np.abs(after - before).max(axis=2) > 16
    x0, y0, x1, y1 = boxes[1]["box"]
    assert not changed[y0:y1, x0:x1].any()  # the kept face, untouched
    for i, face in enumerate(boxes):
        if i != 1 and face["score"] > 0.35:
            fx0, fy0, fx1, fy1 = face["box"]
            assert changed[fy0:fy1, fx0:fx1].mean() > 0.5  # the others covered
    # The dragged box, in the picture's 512 x 355 pixels (give or take a pixel of the drag).
    ax0, ay0, ax1, ay1 = round(512 * 0.42), round(355 * 0.75), round(512 * 0.55), round(355 * 0.92)
    assert changed[ay0 + 2:ay1 - 2, ax0 + 2:ax1 - 2].mean() > 0.25  # the added box covered (a flat shirt)
    # Outside the covered faces' regions (each box stretched to its landmarks and grown 0.3 of its
    # size on each side by the job: 0.6 leaves room for both) and the added box, nothing changed;
    # the kept face's whole region included.
    outside = np.ones_like(changed)
    for i, face in enumerate(boxes):
        if i == 1 or face["score"] <= 0.35:
            continue
        fx0, fy0, fx1, fy1 = face["box"]
        dx, dy = int((fx1 - fx0) * 0.6) + 2, int((fy1 - fy0) * 0.6) + 2
        outside[max(0, fy0 - dy):fy1 + dy, max(0, fx0 - dx):fx1 + dx] = False
    outside[ay0 - 2:ay1 + 2, ax0 - 2:ax1 + 2] = False
    assert outside.mean() > 0.3 and not changed[outside].any()


def two_faces_clip(path: Path, *, frames: int = 50) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    """A 320x240 clip of two photos of faces drifting apart (Grace Hopper left, a face of face.jpg
    right), H.264 at 25 fps; returns each frame's two photo boxes (x0, y0, x1, y1)."""
    import av
    import numpy as np
    from PIL import Image

    left = Image.open(FIXTURES / "grace_hopper.jpg").convert("RGB").resize((100, 117))
    right = Image.open(FIXTURES / "face.jpg").convert("RGB").crop((240, 30, 370, 200)).resize((92, 120))
    boxes = []
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        for k in range(frames):
            frame = Image.fromarray(np.full((240, 320, 3), (90, 120, 150), np.uint8))
            a, b = (10 + k // 2, 40), (210 - k // 2, 60)
            frame.paste(left, a)
            frame.paste(right, b)
            boxes.append(((a[0], a[1], a[0] + 100, a[1] + 117), (b[0], b[1], b[0] + 92, b[1] + 120)))
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return boxes


def test_keep_a_video_track_visible_over_the_whole_video(page, tmp_path):
    """A first run tracks both faces; the left one's track, clicked on a key frame, is kept; the
    second run leaves that face as it is in every frame (the input's pixels, give or take the
    encoder) and still covers the other."""
    import numpy as np

    from video_clips import read_frames

    clip = tmp_path / "two.mp4"
    boxes = two_faces_clip(clip)
    page.set_input_files("#add-files", str(clip))
    page.wait_for_function("() => document.querySelectorAll('#add-strip .box.cover').length >= 12")
    page.click("#add-apply")
    wait_done(page, "add")
    first = download(page, page.locator("#add-result a.download").first, tmp_path / "first")
    page.wait_for_selector("#add-strip .box.track")
    assert "2 tracks in the last run" in page.inner_text("#add-count")
    tracks = page.evaluate("""() => [...document.querySelectorAll('#add-strip figure:first-child .box.track')]
        .map((b) => [Number(b.dataset.index), b.getBoundingClientRect().left])""")
    left_track = min(tracks, key=lambda t: t[1])[0]
    page.locator(f"#add-strip figure:first-child .box.track[data-index='{left_track}']").click()
    # Every key frame's box of that track is kept, the other track's still covered (the strip
    # is drawn again, each picture's boxes once it has loaded).
    page.wait_for_function("""() => document.querySelectorAll('#add-strip .box.track.kept').length === 8
        && document.querySelectorAll('#add-strip .box.track.cover').length === 8""")
    screenshot(page, "video-tracks", tmp_path)
    page.click("#add-apply")
    wait_done(page, "add")
    second = download(page, page.locator("#add-result a.download").first, tmp_path / "second")
    source, _, _ = read_frames(clip)

    def change(path, which):
        frames, _, _ = read_frames(path)
        assert len(frames) == 50
        return [np.abs(f[y0:y1, x0:x1].astype(int) - s[y0:y1, x0:x1].astype(int)).mean()
                for f, s, (x0, y0, x1, y1) in zip(frames, source, (b[which] for b in boxes), strict=True)]

    assert min(change(first, 0)) > 5 and min(change(first, 1)) > 5  # both covered at first
    kept, other = change(second, 0), change(second, 1)
    # The kept face differs from the input by the encoder's loss only (1.9 mean, up to 3.2 with an
    # older libx264); a covered face by more than 20.
    assert max(kept) < 6 and min(other) > 12, (max(kept), min(other))
