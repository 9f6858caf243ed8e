"""`translate --gallery` and `eval --gallery`: one self-contained web page of the run (pictures
embedded, figures per image that agree with the command's own)."""

from __future__ import annotations

import base64
import io
import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from mosaicgan.cli import main


class Page(HTMLParser):
    """The rows, images, links and captions of a gallery."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.images: list[dict] = []
        self.links: list[str] = []
        self.captions: list[str] = []
        self._caption = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "tr":
            self.rows.append([])
        elif tag == "img":
            self.images.append(attrs)
        elif tag == "a":
            self.links.append(attrs["href"])
        elif tag == "figcaption":
            self._caption = True
            self.captions.append("")

    def handle_endtag(self, tag):
        if tag == "figcaption":
            self._caption = False

    def handle_data(self, data):
        if self._caption:
            self.captions[-1] += data
        elif self.rows:
            self.rows[-1].append(data)


def decoded(src: str) -> np.ndarray:
    assert src.startswith("data:image/jpeg;base64,")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))).convert("RGB"))


def test_translate_gallery_shows_each_input_beside_its_output(tiny_run, toy_data, tmp_path, capsys):
    inputs = sorted((toy_data / "test").glob("*.png"))[:3]
    odd = tmp_path / "a <b> & c.png"  # a name that must be escaped in the page
    odd.write_bytes(inputs[0].read_bytes())
    out, gallery = tmp_path / "out", tmp_path / "pages" / "run.html"
    gallery.parent.mkdir()
    assert main(["translate", *map(str, inputs[1:]), str(odd), "--checkpoint", str(tiny_run), "--out", str(out),
                 "--gallery", str(gallery)]) == 0
    assert f"wrote {gallery}" in capsys.readouterr().out
    text = gallery.read_text()
    page = Page(text)
    assert "a &lt;b&gt; &amp; c.png" in text and "<b>" not in text
    assert len(page.images) == 2 * 3 and len(page.rows) == 1 + 3  # the header row, then one per image
    for link in page.links:  # each output linked relative to the page, and there
        assert not link.startswith("/") and (gallery.parent / link).resolve().is_file()
    # The embedded output is the written file, as a thumbnail (the toy images are smaller than one).
    written = np.asarray(Image.open(out / f"{inputs[1].stem}.png").convert("RGB"), dtype=np.int16)
    shown = decoded(page.images[1]["src"]).astype(np.int16)
    assert shown.shape == written.shape and np.abs(shown - written).mean() < 4  # JPEG of the same picture
    assert "<script" not in text and "http" not in text  # nothing to run, nothing fetched


def test_eval_gallery_figures_agree_with_the_eval_result(tiny_run, toy_data, tmp_path, capsys):
    gallery, result = tmp_path / "eval.html", tmp_path / "eval.json"
    assert main(["eval", "--checkpoint", str(tiny_run), "--data", str(toy_data), "--json", str(result),
                 "--gallery", str(gallery)]) == 0
    page = Page(gallery.read_text())
    scores = json.loads(result.read_text())
    n = scores["images"]
    assert len(page.images) == 3 * n
    # Under each pair: the identity's figures (input) and the model's (output): their means are
    # the command's own figures.
    found = [tuple(float(v) for v in re.findall(r"PSNR ([\d.]+) SSIM ([\d.]+)", c)[0]) for c in page.captions]
    identity, model = found[0::2], found[1::2]
    assert len(model) == n
    assert np.mean([p for p, _ in model]) == pytest.approx(scores["model"]["psnr"], abs=0.01)
    assert np.mean([s for _, s in identity]) == pytest.approx(scores["identity"]["ssim"], abs=1e-4)


def test_a_gallery_name_that_is_not_a_page_is_refused_before_the_run(tiny_run, toy_data, tmp_path, capsys):
    code = main(["translate", str(toy_data / "test"), "--checkpoint", str(tiny_run), "--out", str(tmp_path / "o"),
                 "--gallery", str(tmp_path / "g.png")])
    err = capsys.readouterr().err
    assert code == 2 and "--gallery writes a web page" in err and not (tmp_path / "o").exists()
