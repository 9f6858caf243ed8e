"""The server's API on bad input, refused origins and paths outside the work folder
(FastAPI's TestClient; the page itself is tested in a browser, tests/test_web_browser.py)."""

from __future__ import annotations

import json
import os

import pytest

from helpers import FIXTURES
from video_clips import make_clip
from web_helpers import ORIGIN, PORT, files_under, post_file, web_client


@pytest.fixture
def client(tmp_path):
    with web_client(tmp_path / "work") as c:
        yield c


def uploads_root(client):
    return client.state.store.root / "uploads"


# ---- who may call ---------------------------------------------------------------------------
def test_the_page_is_served_with_its_own_scripts_only(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "script-src" not in page.headers["content-security-policy"]  # default-src 'self' covers scripts
    assert "default-src 'self'" in page.headers["content-security-policy"]
    # Every script and style the page names is served by the package; nothing from elsewhere.
    import re

    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert refs and all(r.startswith("/static/") for r in refs), refs
    for ref in refs:
        assert client.get(ref).status_code == 200
    assert client.get("/static/nothing.js").status_code == 404
    assert client.get("/static/..%2Fapp.py").status_code == 404


@pytest.mark.parametrize("host", ["evil.example:8765", "127.0.0.1.nip.io:8765", f"127.0.0.1:{PORT + 1}", ""])
def test_a_foreign_host_is_refused_dns_rebinding_included(client, host):
    # A rebound name reaches 127.0.0.1 with its own name in Host.
    r = client.get("/api/jobs", headers={"host": host})
    assert r.status_code == 403 and "not the served address" in r.json()["error"]


def test_localhost_is_the_served_address_too(client):
    assert client.get("/api/jobs", headers={"host": f"localhost:{PORT}"}).status_code == 200


@pytest.mark.parametrize("origin", ["http://evil.example", "null", f"https://127.0.0.1:{PORT}",
                                    f"http://127.0.0.1:{PORT + 1}"])
def test_a_foreign_origin_is_refused_and_nothing_is_written(client, origin):
    r = post_file(client, FIXTURES / "face.jpg", headers={"origin": origin})
    assert r.status_code == 403 and "refused" in r.json()["error"]
    assert files_under(uploads_root(client)) == []


def test_cross_site_requests_are_refused_but_a_link_to_the_page_opens(client):
    cross = {"sec-fetch-site": "cross-site", "sec-fetch-mode": "no-cors"}
    assert client.get("/api/jobs", headers=cross).status_code == 403
    assert client.get("/", headers={"sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"}).status_code == 200
    assert client.get("/api/jobs", headers={"sec-fetch-site": "same-origin"}).status_code == 200


def test_the_served_address_rules():
    from mosaicgan.web.guard import allowed_hosts

    assert allowed_hosts("127.0.0.1", 8765) == {"127.0.0.1:8765", "localhost:8765"}
    assert allowed_hosts("::1", 9000) == {"[::1]:9000", "localhost:9000"}
    assert allowed_hosts("192.168.1.20", 80) == {"192.168.1.20:80", "192.168.1.20"}


# ---- uploads --------------------------------------------------------------------------------
def test_an_image_upload_is_probed_and_kept_under_work(client):
    r = post_file(client, FIXTURES / "face.jpg")
    assert r.status_code == 200, r.text
    info = r.json()
    assert (info["kind"], info["width"], info["height"], info["name"]) == ("image", 512, 355, "face.jpg")
    kept = files_under(uploads_root(client))
    assert [p.name for p in kept] == [".view.jpg", "face.jpg"]
    assert (kept[1]).read_bytes() == (FIXTURES / "face.jpg").read_bytes()
    assert client.get(f"/api/uploads/{info['id']}/file").content == (FIXTURES / "face.jpg").read_bytes()
    assert client.get(f"/api/uploads/{info['id']}/view").headers["content-type"] == "image/jpeg"


def test_a_video_upload_reports_length_and_audio(client, tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=20, fps=10, audio=True)
    info = post_file(client, clip.path).json()
    assert info["kind"] == "video" and info["audio"] is True and (info["width"], info["height"]) == (128, 96)
    assert abs(info["duration"] - 2.0) < 0.2 and info["frames"] == 20


@pytest.mark.parametrize("name, body, message", [
    ("broken.jpg", (FIXTURES / "face.jpg").read_bytes()[:3000], "broken.jpg"),
    ("noise.png", os.urandom(5000), "noise.png"),
    ("empty.png", b"", "empty"),
    ("clip.mp4", b"\x00\x00\x00\x18ftypmp42" + os.urandom(3000), "clip.mp4"),
])
def test_a_file_that_does_not_decode_is_refused_in_one_line_and_nothing_kept(client, name, body, message):
    r = post_file(client, FIXTURES / "face.jpg", name=name, body=body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert message in error and "\n" not in error and "nothing was kept" in error
    assert files_under(uploads_root(client)) == [] and list(uploads_root(client).iterdir()) == []


@pytest.mark.parametrize("name", ["../evil.jpg", "../../evil.jpg", "/tmp/evil.jpg", "a/b.jpg", "a\\b.jpg", "..",
                                  ".hidden.jpg", "x\x00.jpg", "....jpg", "./evil.jpg"])
def test_a_path_in_the_file_name_is_refused_and_nothing_written_anywhere(client, tmp_path, name):
    before = files_under(tmp_path)
    r = post_file(client, FIXTURES / "face.jpg", name=name)
    assert r.status_code == 400 and "file name refused" in r.json()["error"]
    assert files_under(tmp_path) == before
    assert not any(p.name == "evil.jpg" for p in files_under(tmp_path.parent))
    assert not os.path.exists("/tmp/evil.jpg")


def test_limits_size_pixels_and_video_length(tmp_path):
    clip = make_clip(tmp_path / "clip.mp4", frames=30, fps=10, audio=False)
    with web_client(tmp_path / "w1", max_upload_mb=0.01) as c:
        r = post_file(c, FIXTURES / "face.jpg")  # 38 KB > 10 KB, said by Content-Length
        assert r.status_code == 413 and "upload limit" in r.json()["error"]

        def chunks():  # no Content-Length: the stream itself is counted
            data = (FIXTURES / "face.jpg").read_bytes()
            for k in range(0, len(data), 4096):
                yield data[k:k + 4096]

        r = c.post("/api/uploads", params={"name": "face.jpg"}, content=chunks(), headers={"origin": ORIGIN})
        assert r.status_code == 413
        assert files_under(c.state.store.root) == []
    with web_client(tmp_path / "w2", max_megapixels=0.1) as c:
        r = post_file(c, FIXTURES / "face.jpg")  # 512 x 355 = 0.18 MP
        assert r.status_code == 400 and "too large (512 x 355" in r.json()["error"]
        assert files_under(c.state.store.root) == []
    with web_client(tmp_path / "w3", max_video_seconds=2.0) as c:
        r = post_file(c, clip.path)
        assert r.status_code == 400 and "too long (3.0 s" in r.json()["error"]
        assert files_under(c.state.store.root) == []


def test_unknown_and_malformed_ids(client):
    assert client.get(f"/api/uploads/{'0' * 32}").status_code == 404
    assert client.get("/api/uploads/not-an-id").status_code == 400
    assert client.get("/api/uploads/..%2F..%2Fetc").status_code in (400, 404)
    assert client.get(f"/api/jobs/{'a' * 32}").status_code == 404
    assert client.post(f"/api/jobs/{'a' * 32}/cancel", headers={"origin": ORIGIN}).status_code == 404


def test_a_symbolic_link_in_the_work_folder_is_not_followed(client, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the page")
    info = post_file(client, FIXTURES / "face.jpg").json()
    upload = client.state.uploads[info["id"]].path
    upload.unlink()
    upload.symlink_to(secret)  # a link planted where the upload was
    r = client.get(f"/api/uploads/{info['id']}/file")
    assert r.status_code == 403 and "not for the page" not in r.text
    folder = upload.parent
    os.rename(folder, folder.with_name("moved"))
    folder.symlink_to(tmp_path, target_is_directory=True)  # the upload's folder itself a link
    (tmp_path / ".view.jpg").write_bytes(b"outside")
    assert client.get(f"/api/uploads/{info['id']}/view").status_code == 403


def test_the_store_refuses_paths_outside_it(tmp_path):
    from mosaicgan.web.store import OutsideWork, WorkStore

    store = WorkStore(tmp_path / "work", keep_seconds=60)
    for path in (tmp_path / "x", store.root / ".." / "x", store.root / "uploads" / ".." / ".." / "x"):
        with pytest.raises(OutsideWork):
            store.inside(path)
    assert store.inside(store.root / "uploads") == store.root / "uploads"
    store.close()
    assert not store.root.exists() and (tmp_path / "work").is_dir()


# ---- faces for the review -------------------------------------------------------------------
def test_faces_are_found_once_with_scores_and_cached(client, monkeypatch):
    info = post_file(client, FIXTURES / "face.jpg").json()
    first = client.get(f"/api/uploads/{info['id']}/faces").json()
    faces = first["faces"]
    assert len([f for f in faces if f["score"] >= 0.35]) == 4  # the fixture's four people
    assert all(len(f["box"]) == 4 and 0 < f["score"] <= 1 for f in faces)
    assert [f["score"] for f in faces] == sorted((f["score"] for f in faces), reverse=True)
    from mosaicgan.jobs import review

    monkeypatch.setattr(review, "faces_in_image", lambda *a, **k: pytest.fail("the detector ran a second time"))
    assert client.get(f"/api/uploads/{info['id']}/faces").json() == first
    cached = client.state.uploads[info["id"]].path.parent / ".faces.json"
    assert json.loads(cached.read_text()) == first


@pytest.mark.parametrize("name", ["face.jpg", "grace_hopper.jpg", "cat.jpg"])
def test_the_review_slider_shows_what_the_job_finds_at_each_threshold(name):
    """The slider filters one low-threshold pass (score > threshold): at every threshold it
    shows the boxes a job's pass at that threshold finds (the job's own RegionFinder)."""
    from mosaicgan.infer.add.regions import RegionFinder, RegionRequest
    from mosaicgan.infer.image_io import load_image
    from mosaicgan.jobs.review import faces_in_image
    from mosaicgan.web.inspect import REVIEW_THRESHOLD

    image = load_image(FIXTURES / name).image
    review = faces_in_image(FIXTURES / name, threshold=REVIEW_THRESHOLD)
    for threshold in (0.15, 0.35, 0.5, 0.7, 0.9):
        job = RegionFinder(RegionRequest(kind="faces", face_threshold=threshold)).find(image).info["boxes"]
        assert sorted(f["box"] for f in review if f["score"] > threshold) == sorted(job), threshold


# ---- expiry ---------------------------------------------------------------------------------
def test_files_expire_after_the_keep_time_and_go_on_shutdown(tmp_path):
    import time

    with web_client(tmp_path / "work", keep_minutes=1) as c:
        info = post_file(c, FIXTURES / "face.jpg").json()
        folder = c.state.uploads[info["id"]].path.parent
        assert c.state.sweep(now=time.monotonic() + 30) == [] and folder.is_dir()
        assert c.state.sweep(now=time.monotonic() + 61) == [("uploads", info["id"])]
        assert not folder.exists() and c.get(f"/api/uploads/{info['id']}").status_code == 404
        root = c.state.store.root
    assert not root.exists() and (tmp_path / "work").is_dir()


# ---- serving --------------------------------------------------------------------------------
def test_serve_refuses_a_wildcard_address_and_warns_off_loopback(tmp_path, capsys):
    from mosaicgan.cli import main
    from mosaicgan.web.server import warning
    from mosaicgan.web.settings import ServeSettings

    for host in ("0.0.0.0", "::"):
        assert main(["serve", "--host", host, "--port", "0", "--work", str(tmp_path)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "not a wildcard" in err
    assert main(["serve", "--port", "70000", "--work", str(tmp_path)]) == 2
    assert "--port must lie in" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []  # nothing made in --work before the address is good
    assert warning(ServeSettings(work=tmp_path)) is None
    assert warning(ServeSettings(work=tmp_path, host="localhost")) is None
    assert "WARNING: serving on 192.168.1.20" in warning(ServeSettings(work=tmp_path, host="192.168.1.20"))


def test_a_live_server_answers_on_its_printed_address_and_cleans_up(tmp_path):
    import httpx

    from mosaicgan.web.server import Server
    from mosaicgan.web.settings import ServeSettings

    server = Server(ServeSettings(work=tmp_path / "work", port=0)).start()
    try:
        assert server.url.startswith("http://127.0.0.1:") and server.settings.port > 0
        assert httpx.get(server.url + "api/jobs").json() == {"jobs": []}
        assert httpx.get(server.url + "api/jobs", headers={"host": "evil.example"}).status_code == 403
        root = server.state.store.root
        assert root.is_dir()
    finally:
        server.stop()
    assert not root.exists()
