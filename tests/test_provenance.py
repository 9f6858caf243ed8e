"""Provenance: restored files say, inside them, that mosaicgan made them and that the regions
are synthesized; `read_provenance` finds it again. JPEG quality estimated from the tables."""


import pytest
import torch
from PIL import Image

from helpers import FIXTURES
from mosaicgan import __version__
from mosaicgan.infer.encoding import estimate_jpeg_quality, jpeg_subsampling, matching_save_options
from mosaicgan.infer.image_io import write_image
from mosaicgan.infer.provenance import STATEMENT, metadata_save_options, provenance_record, read_provenance


def record():
    return provenance_record(restorer={"restorer": "test restorer", "restorer_kind": "classical"},
                             regions=[{"box": [1, 2, 30, 40], "grid": "8x8 offset 3,5", "found_by": "mask"}],
                             source="photo.jpg")


@pytest.mark.parametrize("suffix, fmt", [(".png", "PNG"), (".jpg", "JPEG"), (".webp", "WEBP"), (".tif", "TIFF")])
def test_written_and_read_back(tmp_path, suffix, fmt):
    path = tmp_path / f"out{suffix}"
    image = torch.rand(3, 24, 32) * 2 - 1
    write_image(image, path, options=metadata_save_options(fmt, record()))
    back = read_provenance(path)
    assert back == record()
    assert back["software"] == f"mosaicgan {__version__}" and back["synthesized"] is True
    with Image.open(path) as img:
        assert img.size == (32, 24) and img.format == fmt


def test_jpeg_statement_is_in_plain_exif_and_xmp(tmp_path):
    # Viewers that know nothing of mosaicgan show EXIF ImageDescription / Software and XMP.
    path = tmp_path / "out.jpg"
    write_image(torch.zeros(3, 16, 16), path, options=metadata_save_options("JPEG", record()))
    with Image.open(path) as img:
        exif = img.getexif()
        assert exif[0x010E] == STATEMENT and exif[0x0131].startswith("mosaicgan")
        assert b"synthesized" in img.info["xmp"]


def test_png_has_readable_text_chunks(tmp_path):
    path = tmp_path / "out.png"
    write_image(torch.zeros(3, 16, 16), path, options=metadata_save_options("PNG", record()))
    with Image.open(path) as img:
        assert img.text["Description"] == STATEMENT and img.text["Software"].startswith("mosaicgan")


def test_files_without_provenance_have_none(tmp_path):
    for name in ("cat.jpg", "bird.jpg"):
        assert read_provenance(FIXTURES / name) is None
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    assert read_provenance(plain) is None


@pytest.mark.parametrize("quality", [35, 60, 75, 92])
@pytest.mark.parametrize("subsampling", [0, 2])
def test_jpeg_quality_is_estimated_from_the_tables(tmp_path, quality, subsampling):
    path = tmp_path / "q.jpg"
    Image.open(FIXTURES / "cat.jpg").save(path, quality=quality, subsampling=subsampling)
    assert estimate_jpeg_quality(path) == quality
    assert jpeg_subsampling(path) == subsampling
    options = matching_save_options(path, tmp_path / "out.jpg")
    assert options == {"quality": quality, "subsampling": subsampling}
    assert matching_save_options(path, tmp_path / "out.jpg", quality=50)["quality"] == 50
