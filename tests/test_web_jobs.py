"""Jobs through the server's API: the page's requests run the same jobs as the CLI (checked
against the CLI's own outputs), their bad input, the queue's limit, cancel and downloads."""

from __future__ import annotations

import io
import json
import time
import zipfile

import numpy as np
import pytest
from PIL import Image

from helpers import FIXTURES
from mosaicgan.cli import main
from video_clips import make_clip
from web_helpers import ORIGIN, post_file, web_client


def submit(client, kind, uploads, **options):
    return client.post("/api/jobs", json={"kind": kind, "uploads": uploads, "options": options},
                       headers={"origin": ORIGIN})


def finished(client, job_id, timeout=120):
    assert client.state.queue.wait_idle(timeout)
    return client.get(f"/api/jobs/{job_id}").json()


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


@pytest.fixture
def client(tmp_path):
    with web_client(tmp_path / "work") as c:
        yield c


def test_add_through_the_page_writes_what_the_cli_writes(client, tmp_path, capsys):
    upload = post_file(client, FIXTURES / "face.jpg").json()
    job = submit(client, "add", [upload["id"]], threshold=0.35, style="average", block=None).json()
    assert job["state"] in ("queued", "running", "done") and job["kind"] == "add"
    done = finished(client, job["id"])
    assert done["state"] == "done" and [o["name"] for o in done["outputs"]] == ["face.jpg"]
    assert len(done["outputs"][0]["regions"][0]["boxes"]) == 4
    served = client.get(f"/api/jobs/{job['id']}/outputs/0", params={"download": True})
    assert "attachment" in served.headers["content-disposition"]
    assert main(["add", str(FIXTURES / "face.jpg"), "--faces", "--out", str(tmp_path / "cli")]) == 0
    assert served.content == (tmp_path / "cli" / "face.jpg").read_bytes()  # byte for byte the CLI's file
    assert client.get(f"/api/jobs/{job['id']}/outputs/0/view").headers["content-type"] == "image/jpeg"


def test_several_images_download_as_one_zip_and_nothing_found_is_listed(client):
    ids = [post_file(client, FIXTURES / n).json()["id"] for n in ("face.jpg", "grace_hopper.jpg", "cat.jpg")]
    done = finished(client, submit(client, "add", ids).json()["id"])
    assert [o["name"] for o in done["outputs"]] == ["face.jpg", "grace_hopper.jpg"]
    assert done["not_written"] == ["cat.jpg: no face found, not written"]
    archive = zipfile.ZipFile(io.BytesIO(client.get(f"/api/jobs/{done['id']}/zip").content))
    assert sorted(archive.namelist()) == ["face.jpg", "grace_hopper.jpg"]


def test_remove_restores_a_mosaic_and_says_it_is_synthesized(client, tmp_path):
    mosaicked = tmp_path / "m"
    assert main(["add", str(FIXTURES / "grace_hopper.jpg"), "--box", "61,37,131,117", "--block", "9",
                 "--out", str(mosaicked)]) == 0
    upload = post_file(client, mosaicked / "grace_hopper.jpg").json()
    outlined = client.get(f"/api/uploads/{upload['id']}/mosaics").json()["boxes"]
    assert len(outlined) == 1
    # The outline holds the mosaicked box (61, 37)-(192, 154), within two blocks of 9 px.
    for found, true in zip(outlined[0], (61, 37, 192, 154), strict=True):
        assert abs(found - true) <= 18
    done = finished(client, submit(client, "remove", [upload["id"]]).json()["id"])
    assert done["state"] == "done" and done["outputs"][0]["name"] == "grace_hopper.jpg"
    restored = client.get(f"/api/jobs/{done['id']}/outputs/0").content
    with Image.open(io.BytesIO(restored)) as img:
        assert "synthesized" in str(img.info.get("comment", b"")) + str(img.applist)
    before = pixels((mosaicked / "grace_hopper.jpg").read_bytes()).astype(int)
    after = pixels(restored).astype(int)
    changed = np.abs(after - before).max(axis=2) > 8
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 1000 and xs.min() >= 40 and xs.max() < 215 and ys.min() >= 15 and ys.max() < 175


def test_upscale_and_translate_with_a_model_of_the_models_folder(tmp_path, tiny_run, toy_data):
    models = tmp_path / "models"
    models.mkdir()
    (models / "tiny.safetensors").symlink_to(tiny_run / "checkpoints" / "latest.safetensors")
    with web_client(tmp_path / "work", models=models) as client:
        info = client.get("/api/info").json()
        assert [m["value"] for m in info["translate_models"]] == ["tiny.safetensors"] and info["upscale_models"] == []
        image = next((toy_data / "test").glob("*.png"))
        upload = post_file(client, image).json()
        done = finished(client, submit(client, "translate", [upload["id"]], model="tiny.safetensors").json()["id"])
        assert done["state"] == "done", done
        assert main(["translate", str(image), "--checkpoint", str(tiny_run), "--out", str(tmp_path / "cli")]) == 0
        assert client.get(f"/api/jobs/{done['id']}/outputs/0").content == \
            (tmp_path / "cli" / f"{image.stem}.png").read_bytes()
        bad = submit(client, "translate", [upload["id"]], model="../../etc/passwd")
        assert bad.status_code == 400 and "no such translate model" in bad.json()["error"]
        assert submit(client, "translate", [upload["id"]]).status_code == 400  # no model chosen
        small = post_file(client, FIXTURES / "bird.jpg").json()
        done = finished(client, submit(client, "upscale", [small["id"]]).json()["id"])
        assert done["state"] == "done"
        up = pixels(client.get(f"/api/jobs/{done['id']}/outputs/0").content)
        assert up.shape == (214 * 4, 320 * 4, 3)


@pytest.mark.parametrize("body, status, fragment", [
    ({"kind": "paint", "uploads": ["0" * 32]}, 400, "kind must be one of"),
    ({"kind": "add", "uploads": []}, 400, "uploads must be a list"),
    ({"kind": "add", "uploads": "abc"}, 400, "uploads must be a list"),
    ({"kind": "add", "uploads": ["0" * 32]}, 404, "no such upload"),
    ({"kind": "add", "uploads": ["../../x"]}, 400, "not a valid upload id"),
    ({"kind": "add", "uploads": ["UP", "UP"]}, 400, "named twice"),
    ({"kind": "add", "uploads": ["UP"], "options": {"style": "paint"}}, 400, "bad option style"),
    ({"kind": "add", "uploads": ["UP"], "options": {"threshold": 7}}, 400, "bad option threshold"),
    ({"kind": "add", "uploads": ["UP"], "options": {"threshold": "NaN"}}, 400, "bad option threshold"),
    ({"kind": "add", "uploads": ["UP"], "options": {"block": True}}, 400, "bad option block"),
    ({"kind": "add", "uploads": ["UP"], "options": {"keep": {"UP": [[1, 2, 3]]}}}, 400, "bad option keep"),
    ({"kind": "add", "uploads": ["UP"], "options": {"keep": {"0" * 32: [[1, 2, 3, 4]]}}}, 400, "not one of"),
    ({"kind": "add", "uploads": ["UP"], "options": {"also": {"UP": [[1, 2, 0, 4]]}}}, 400, "bad option also"),
    ({"kind": "add", "uploads": ["UP"], "options": []}, 400, "options must be an object"),
    ({"kind": "add", "uploads": ["VID"], "options": {"keep_tracks": {"VID": [0]}}}, 400, "bad option keep_tracks"),
    ({"kind": "add", "uploads": ["VID"], "options": {"keep_tracks": {"VID": ["1"]}}}, 400, "bad option keep_tracks"),
    ({"kind": "add", "uploads": ["VID"], "options": {"keep_tracks": {"UP": [1]}}}, 400, "not one of"),
    ({"kind": "add", "uploads": ["UP"], "options": {"style": "solid", "block": 0}}, 400, "bad option block"),
    ({"kind": "upscale", "uploads": ["VID"]}, 400, "upscale works on images"),
    ([1, 2], 400, "JSON object"),
])
def test_bad_job_requests_get_one_line_and_nothing_queued(client, tmp_path, body, status, fragment):
    image = post_file(client, FIXTURES / "grace_hopper.jpg").json()["id"]
    video = post_file(client, make_clip(tmp_path / "c.mp4", frames=5).path).json()["id"]
    names = {"UP": image, "VID": video}
    text = json.dumps(body)
    for name, upload_id in names.items():
        text = text.replace(f'"{name}"', f'"{upload_id}"')
    r = client.post("/api/jobs", content=text.encode(), headers={"origin": ORIGIN, "content-type": "application/json"})
    assert r.status_code == status and fragment in r.json()["error"] and "\n" not in r.json()["error"], r.text
    assert client.get("/api/jobs").json() == {"jobs": []}
    assert list((client.state.store.root / "jobs").iterdir()) == []


def test_a_bad_option_found_by_the_job_is_its_failure_in_one_line(client):
    upload = post_file(client, FIXTURES / "grace_hopper.jpg").json()
    done = finished(client, submit(client, "add", [upload["id"]], block=4000).json()["id"])
    assert done["state"] == "failed" and done["error"].startswith("grace_hopper.jpg: --block 4000 exceeds")
    assert "/" not in done["error"].split(":")[0]  # the name, not the server's path


def test_cancel_a_running_video_job_frees_the_worker_and_leaves_no_file(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", width=320, height=240, frames=150, fps=25)
    with web_client(tmp_path / "work", max_queued=0) as client:
        video = post_file(client, clip.path).json()
        image = post_file(client, FIXTURES / "grace_hopper.jpg").json()
        job = submit(client, "add", [video["id"]]).json()
        deadline = time.monotonic() + 120
        while client.get(f"/api/jobs/{job['id']}").json()["done"] < 5:  # frames under way
            assert time.monotonic() < deadline and client.state.queue.get(job["id"]).state in ("queued", "running")
            time.sleep(0.05)
        full = submit(client, "add", [image["id"]])  # the queue holds no waiting job (--max-queued 0)
        assert full.status_code == 429 and "already waiting" in full.json()["error"]
        cancelled = client.post(f"/api/jobs/{job['id']}/cancel", headers={"origin": ORIGIN}).json()
        assert cancelled["state"] in ("running", "cancelled")
        done = finished(client, job["id"])
        assert done["state"] == "cancelled" and 5 <= done["done"] < 150
        out = client.state.store.root / "jobs" / job["id"] / "out"
        assert not out.exists() or [p.name for p in out.iterdir()] == []
        after = finished(client, submit(client, "add", [image["id"]]).json()["id"])  # the worker is free
        assert after["state"] == "done"
