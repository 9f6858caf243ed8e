"""The pure parts of locking (mosaicgan/lock): keys, sealing, the payload, the containers."""

from __future__ import annotations

import io
import os
import stat
import zlib

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("cryptography", reason="the privacy extra (cryptography) is not installed")

from mosaicgan.errors import UserError  # noqa: E402
from mosaicgan.lock import bmff, containers, identity  # noqa: E402
from mosaicgan.lock.keys import (  # noqa: E402
    fingerprint,
    generate_key_pair,
    load_private_key,
    load_public_key,
    public_raw,
    show_fingerprint,
)
from mosaicgan.lock.payload import Patch, PayloadReader, pack, padded_length, unpack  # noqa: E402
from mosaicgan.lock.seal import (  # noqa: E402
    HEADER_SIZE,
    LockError,
    OtherFile,
    Tampered,
    Truncated,
    WrongKey,
    open_sealed,
    read_header,
    seal,
)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("keys")
    pair = generate_key_pair(folder)
    other = generate_key_pair(folder, name="other")
    return pair, other


def test_keygen_files_private_mode_and_fingerprint(keys):
    pair, other = keys
    assert stat.S_IMODE(os.stat(pair.private).st_mode) == 0o600
    public = load_public_key(pair.public)
    private = load_private_key(pair.private)
    assert fingerprint(public_raw(public)) == fingerprint(public_raw(private)) == pair.fingerprint
    assert pair.fingerprint != other.fingerprint
    assert show_fingerprint(pair.fingerprint).startswith("SHA256:") and len(show_fingerprint(pair.fingerprint)) == 23


def test_keygen_never_overwrites(keys):
    pair, _ = keys
    before = pair.private.read_bytes()
    with pytest.raises(UserError, match="never overwritten"):
        generate_key_pair(pair.private.parent)
    assert pair.private.read_bytes() == before


def test_key_files_of_the_wrong_half_are_refused(keys):
    pair, _ = keys
    with pytest.raises(UserError, match="public key cannot unlock"):
        load_private_key(pair.public)
    with pytest.raises(UserError, match="this is a private key"):
        load_public_key(pair.private)


def test_passphrase_protected_key(tmp_path, monkeypatch):
    pair = generate_key_pair(tmp_path, passphrase=b"correct horse")
    monkeypatch.delenv("MOSAICGAN_KEY_PASSPHRASE", raising=False)
    with pytest.raises(UserError, match="protected by a passphrase"):
        load_private_key(pair.private)
    with pytest.raises(UserError, match="wrong passphrase"):
        load_private_key(pair.private, passphrase=b"wrong")
    monkeypatch.setenv("MOSAICGAN_KEY_PASSPHRASE", "correct horse")
    assert fingerprint(public_raw(load_private_key(pair.private))) == pair.fingerprint


BINDING = bytes(range(32))


@pytest.mark.parametrize("size,chunk", [(0, 64), (1, 64), (64, 64), (1000, 64), (5000, 1 << 20)])
def test_seal_round_trip(keys, size, chunk):
    pair, _ = keys
    plain = os.urandom(size)
    blob = seal(plain, recipient=load_public_key(pair.public), binding=BINDING, chunk_size=chunk)
    assert read_header(blob).recipient == pair.fingerprint
    assert open_sealed(blob, private_key=load_private_key(pair.private), binding=BINDING) == plain


def test_seal_uses_a_fresh_key_per_file(keys):
    pair, _ = keys
    public = load_public_key(pair.public)
    a, b = (seal(b"same", recipient=public, binding=BINDING) for _ in range(2))
    assert read_header(a).ephemeral != read_header(b).ephemeral and a[HEADER_SIZE:] != b[HEADER_SIZE:]


def test_wrong_key_other_file_truncation_and_tampering_are_named(keys):
    pair, other = keys
    private = load_private_key(pair.private)
    blob = seal(os.urandom(3000), recipient=load_public_key(pair.public), binding=BINDING, chunk_size=512)
    with pytest.raises(WrongKey, match="another key"):
        open_sealed(blob, private_key=load_private_key(other.private), binding=BINDING)
    with pytest.raises(OtherFile, match="another file"):
        open_sealed(blob, private_key=private, binding=bytes(32))
    for cut in (HEADER_SIZE + 10, len(blob) - 512 - 16, len(blob) - 1):
        with pytest.raises(Truncated):
            open_sealed(blob[:cut], private_key=private, binding=BINDING)
    # Any byte changed anywhere: a LockError, never plaintext.
    rng = np.random.default_rng(0)
    for pos in list(range(HEADER_SIZE)) + rng.integers(HEADER_SIZE, len(blob), 40).tolist():
        bad = bytearray(blob)
        bad[pos] ^= 1 << int(rng.integers(0, 8))
        with pytest.raises(LockError):
            open_sealed(bytes(bad), private_key=private, binding=BINDING)
    # Chunks swapped: authentication fails.
    body = blob[HEADER_SIZE:]
    swapped = blob[:HEADER_SIZE] + body[528:1056] + body[:528] + body[1056:]
    with pytest.raises(Tampered):
        open_sealed(swapped, private_key=private, binding=BINDING)


def test_what_a_public_key_holder_can_compute_does_not_open_it(keys):
    """Everything in the clear (the one-time public key, the recipient's public key) and a fresh
    key pair of one's own give no key that decrypts: the agreement needs a private key."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.asymmetric import x25519
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from mosaicgan.lock import seal as seal_module

    pair, _ = keys
    public = load_public_key(pair.public)
    blob = seal(b"the original face", recipient=public, binding=BINDING)
    header = read_header(blob)
    mine = x25519.X25519PrivateKey.generate()
    guesses = [mine.exchange(public), mine.exchange(x25519.X25519PublicKey.from_public_bytes(header.ephemeral)),
               header.ephemeral, public_raw(public), bytes(32)]
    for shared in guesses:
        key = seal_module._key(shared, header.ephemeral, public_raw(public))
        with pytest.raises(InvalidTag):
            AESGCM(key).decrypt(seal_module._nonce(header.prefix, 0, True), blob[HEADER_SIZE:], header.raw)


def test_ciphertext_carries_no_structure_of_the_plaintext(keys):
    pair, _ = keys
    flat = bytes(200_000)  # as compressible as data gets
    blob = seal(flat, recipient=load_public_key(pair.public), binding=BINDING)
    assert len(zlib.compress(blob[HEADER_SIZE:], 9)) > 0.99 * (len(blob) - HEADER_SIZE)


def _patches(rng, n=5, channels=3, dtype=np.uint8):
    top = 255 if dtype == np.uint8 else 65535
    return [Patch(frame=k // 2, x=int(rng.integers(0, 500)), y=int(rng.integers(0, 500)),
                  pixels=rng.integers(0, top + 1, (int(rng.integers(1, 40)), int(rng.integers(1, 40)), channels),
                                      dtype=np.int64).astype(dtype)) for k in range(n)]


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_payload_round_trip(channels, dtype):
    patches = _patches(np.random.default_rng(channels), channels=channels, dtype=dtype)
    info, back = unpack(pack(patches, info={"kind": "image", "width": 600, "height": 600}))
    assert info["width"] == 600
    assert len(back) == len(patches)
    for a, b in zip(patches, back, strict=True):
        assert (a.frame, a.x, a.y) == (b.frame, b.x, b.y)
        assert b.pixels.dtype == a.pixels.dtype and np.array_equal(a.pixels, b.pixels)


def test_payload_streams_in_pieces_and_is_padded():
    patches = _patches(np.random.default_rng(0), n=7)
    data = pack(patches, info={"kind": "video"})
    assert len(data) == padded_length(len(data))
    pieces = [data[i:i + 37] for i in range(0, len(data), 37)]
    reader = PayloadReader(pieces)
    assert reader.info == {"kind": "video"}
    assert [p.frame for p in reader.patches()] == [p.frame for p in patches]


def test_padding_steps_are_coarse_but_cheap():
    for n in (1, 1000, 1025, 50_000, 1_000_000, 12_345_678):
        p = padded_length(n)
        assert n <= p <= n + max(1024, n / 16)
    # Sizes within a step seal to one length: a payload says little about its content's detail.
    assert padded_length(983_041) == padded_length(1_015_000) == 1_015_808


def test_patch_paste_puts_pixels_back():
    frame = np.zeros((10, 12, 3), np.uint8)
    Patch(0, 9, 8, np.full((4, 5, 3), 7, np.uint8)).paste(frame)  # cut at the border
    assert frame[8:, 9:].min() == 7 and frame[:8].max() == 0 and frame[:, :9].max() == 0


def _encoded(fmt, mode="RGB", size=(64, 48), **options):
    rng = np.random.default_rng(1)
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    arr = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8)
    img = Image.fromarray(arr[:, :, 0] if mode == "L" else arr, mode=mode)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


CASES = [("PNG", "RGB", {}), ("PNG", "L", {}), ("PNG", "RGBA", {}), ("JPEG", "RGB", {"quality": 95}),
         ("JPEG", "L", {}), ("WEBP", "RGB", {"lossless": True}), ("WEBP", "RGBA", {"lossless": True}),
         ("WEBP", "RGB", {"quality": 80}), ("WEBP", "RGBA", {"quality": 80}), ("TIFF", "RGB", {}),
         ("TIFF", "RGBA", {"compression": "tiff_deflate"}), ("TIFF", "L", {})]


@pytest.mark.parametrize("fmt,mode,options", CASES)
@pytest.mark.parametrize("size", [300, 200_000])  # one part; several (JPEG segments of 64 KiB)
def test_containers_embed_and_extract_leave_the_pixels(fmt, mode, options, size):
    data = _encoded(fmt, mode, **options)
    blob = os.urandom(size)
    assert containers.extract(data) is None
    locked = containers.embed(data, blob)
    assert containers.sniff(locked) == fmt
    assert containers.extract(locked) == blob
    assert identity.image_digest(locked) == identity.image_digest(data)
    with Image.open(io.BytesIO(locked)) as img:
        assert img.mode == Image.open(io.BytesIO(data)).mode
    with pytest.raises(containers.ContainerError, match="already"):
        containers.embed(locked, blob)


def test_png_payload_is_split_into_chunks_libpng_accepts():
    data = _encoded("PNG")
    blob = os.urandom(containers.PNG_PART * 2 + 5)
    locked = containers.embed(data, blob)
    sizes = [len(body) for _, kind, body, _ in containers._png_chunks(locked) if kind == containers.PNG_CHUNK]
    assert sizes == [containers.PNG_PART, containers.PNG_PART, 5]
    assert containers.extract(locked) == blob
    import cv2  # libpng under OpenCV reads it

    assert cv2.imdecode(np.frombuffer(locked, np.uint8), cv2.IMREAD_UNCHANGED) is not None


def test_image_digest_follows_pixels_not_metadata():
    a = _encoded("PNG")
    img = Image.open(io.BytesIO(a))
    buf = io.BytesIO()
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "a caption added later")
    img.save(buf, format="PNG", pnginfo=info, compress_level=1)
    assert identity.image_digest(buf.getvalue()) == identity.image_digest(a)
    arr = np.array(img)
    arr[0, 0, 0] ^= 1
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    assert identity.image_digest(buf.getvalue()) != identity.image_digest(a)


def test_bmff_box_appended_to_an_mp4_plays_and_is_found(tmp_path):
    from video_clips import make_clip, read_frames

    clip = make_clip(tmp_path / "c.mp4", frames=6)
    before, _, _ = read_frames(clip.path)
    digest = identity.video_digest(clip.path)
    blob = os.urandom(70_000)
    with open(clip.path, "r+b") as f:
        assert bmff.find(f) is None
        offset = bmff.append(f, len(blob))
        f.write(blob)
    with open(clip.path, "rb") as f:
        assert bmff.find(f) == (offset, len(blob))
        f.seek(offset)
        assert f.read(len(blob)) == blob
    after, _, _ = read_frames(clip.path)
    assert len(after) == len(before) and all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    assert identity.video_digest(clip.path) == digest
    assert bmff.USER_TYPE == b"mosaicgan-lock-1"
