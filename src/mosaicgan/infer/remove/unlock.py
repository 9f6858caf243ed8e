"""`remove --unlock KEY` over image files: the original pixels of the anonymized regions put back
from the payload sealed into each file (`infer/lock/still.py`). Nothing is detected or
synthesized, and no restorer is loaded.

Every input is opened with the key before the first file is written, so a wrong key, another
file's payload, a truncated or altered payload, or a file that is not locked stops the run with
one line naming the file, and an untouched --out. Outputs keep the input's name and format
(lossless), except that a JPEG becomes NAME.png, and say in their metadata that their regions
hold original pixels restored with a key (`mosaicgan info`).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from mosaicgan.errors import UserError
from mosaicgan.infer.lock.still import unlock_image, unlocked_name, write_unlocked
from mosaicgan.infer.outputs import plan_outputs
from mosaicgan.infer.results import ItemResult
from mosaicgan.lock.keys import fingerprint, public_raw, show_fingerprint


def key_name(private_key) -> str:
    """The fingerprint people compare, of a private key's public half."""
    return show_fingerprint(fingerprint(public_raw(private_key)))


def check_unlock(paths: list[Path], *, out_dir: str | Path, private_key, overwrite: bool = False,
                 mine: Collection[Path] | None = None) -> dict[Path, list[Path]]:
    """Every image opens with the key; outputs neither replace an input nor collide. Returns the
    output plan (input -> [output])."""
    out = Path(out_dir).resolve()
    for path in paths:
        if path.resolve().parent == out:
            raise UserError("--out is the folder this input is in; choose another folder (inputs are never "
                            "overwritten)", path=out_dir)
    plan = plan_outputs(paths, out, names=lambda p: [unlocked_name(p)], overwrite=overwrite, mine=mine)
    for path in paths if mine is None else [p for p in paths if p in mine]:
        unlock_image(path, private_key=private_key)
    return plan


def unlock_to_image(path: Path, outputs: list[Path], *, private_key) -> ItemResult:
    """Unlock the image `path` into outputs[0]. Its regions (the report's "locked" kind) are
    where original pixels were put back."""
    unlocked = unlock_image(path, private_key=private_key)
    out = write_unlocked(unlocked, outputs[0], fingerprint=key_name(private_key), source=path.name)
    regions = [{"kind": "locked", "box": list(box), "applied": True} for box in unlocked.boxes]
    return ItemResult(input=path, kind="image", outputs=[out], regions=regions,
                      size=(unlocked.image.width, unlocked.image.height),
                      mask_area=sum((b[2] - b[0]) * (b[3] - b[1]) for b in unlocked.boxes))


def check_unlock_video(path: Path, out: Path, *, private_key) -> None:
    """A locked video opens with the key (every chunk authenticated) and `out`'s container takes
    the lossless encoder; nothing is written."""
    from mosaicgan.infer.lock.video import UNLOCK_ENCODE
    from mosaicgan.infer.lock.video import check_unlock_video as check_payload
    from mosaicgan.infer.video.decode import VideoInput
    from mosaicgan.infer.video.encode import check_encoder, output_format

    with VideoInput(path) as src:
        size, bits = (src.info.width, src.info.height), src.info.bits
    if bits > 8:
        raise UserError(f"--unlock handles 8-bit videos; this one is {bits}-bit", path=path)
    try:
        check_encoder(UNLOCK_ENCODE, output_format(out))
    except UserError:
        raise UserError("the unlocked video is lossless H.264 in RGB, which this container cannot hold; give --out "
                        "NAME.mkv (or .mp4)", path=out) from None
    check_payload(path, private_key=private_key, size=size)


def unlock_to_video(path: Path, out: Path, *, private_key, progress=None) -> ItemResult:
    """Unlock the video `path` into `out` (lossless; see `infer/lock/video.py`)."""
    from mosaicgan.infer.lock.video import UNLOCK_ENCODE, find_video_payload, unlock_stage, unlock_tags
    from mosaicgan.infer.results import NOTHING_FOUND
    from mosaicgan.infer.video.job import write_video

    payload = find_video_payload(path)
    if payload is None:
        raise UserError("not locked", path=path)
    tags = unlock_tags(fingerprint=key_name(private_key), source=path.name)
    done = write_video(path, out, make_stage=lambda result: unlock_stage(path, payload, private_key=private_key,
                                                                         result=result),
                       encode=UNLOCK_ENCODE, settings={"unlock": str(path)}, metadata=tags, progress=progress)
    return ItemResult(input=path, kind="video", status="written" if done.written else NOTHING_FOUND,
                      outputs=[out] if done.written else [], frames=done.frames,
                      frames_with_region=done.frames_with_region, dropped_streams=list(done.dropped_streams))
