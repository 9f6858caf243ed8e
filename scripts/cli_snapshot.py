"""Run the media commands through the installed CLI over fixed inputs and list a hash of every
output, so that a refactoring can be checked to leave outputs byte-identical:

    .venv/bin/python scripts/cli_snapshot.py --work /tmp/snap --label before
    ... change the code ...
    .venv/bin/python scripts/cli_snapshot.py --work /tmp/snap --label after
    diff /tmp/snap/before.txt /tmp/snap/after.txt

Covers `add` (boxes, a mask, faces, CAM, a folder with a video), `remove` (found and masked,
images and a video), `translate` (a pix2pix checkpoint trained here for a few steps),
`upscale`, `make-pairs`, and `add`/`remove` under torchrun with 2 processes. Videos are listed
by the hash of their decoded frames as well as their bytes (x264 is not bit-repeatable in
every case: see docs/development.md).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
FIXTURES = ROOT / "tests" / "fixtures"


def run(*args: str, cwd: Path, check: bool = True) -> int:
    proc = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode not in (0, 3):
        sys.exit(f"failed ({proc.returncode}): {' '.join(map(str, args))}\n{proc.stderr[-2000:]}")
    return proc.returncode


def frames_hash(path: Path) -> str:
    import av

    digest = hashlib.sha256()
    with av.open(str(path)) as src:
        for frame in src.decode(video=0):
            digest.update(frame.to_ndarray(format="rgb24").tobytes())
    return digest.hexdigest()[:16]


def make_inputs(work: Path) -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from video_clips import make_clip

    inputs = work / "in"
    if inputs.exists():
        return inputs
    (inputs / "images").mkdir(parents=True)
    for name in ("face.jpg", "bird.jpg", "cat.jpg"):
        shutil.copy(FIXTURES / name, inputs / "images" / name)
    from PIL import Image

    Image.open(FIXTURES / "bird.jpg").convert("RGB").resize((96, 64)).save(inputs / "images" / "small.png")
    mask = Image.new("L", Image.open(FIXTURES / "cat.jpg").size, 0)
    mask.paste(255, (20, 30, 120, 110))
    (inputs / "masks").mkdir()
    mask.save(inputs / "masks" / "cat.png")
    (inputs / "mixed").mkdir()
    shutil.copy(FIXTURES / "face.jpg", inputs / "mixed" / "face.jpg")
    make_clip(inputs / "mixed" / "clip.mp4", width=160, height=120, frames=20, seed=1)
    make_clip(inputs / "clip.mp4", width=160, height=120, frames=20, seed=2)
    return inputs


def snapshot(work: Path, label: str) -> Path:
    inputs = make_inputs(work)
    out = work / label
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    mg = BIN / "mosaicgan"
    img = inputs / "images"
    run(mg, "add", img / "cat.jpg", img / "bird.jpg", "--box", "10,10,60,40", "--out", out / "box", cwd=work)
    run(mg, "add", img / "cat.jpg", "--mask", inputs / "masks", "--out", out / "mask", "--save-mask", cwd=work)
    run(mg, "add", img, "--faces", "--out", out / "faces", cwd=work)
    run(mg, "add", img / "bird.jpg", "--cam", "0", "--out", out / "cam", "--style", "median", cwd=work)
    run(mg, "add", inputs / "clip.mp4", "--box", "20,20,50,40", "--out", out / "vbox", "--quiet", cwd=work)
    run(mg, "add", inputs / "mixed" / "clip.mp4", inputs / "mixed" / "face.jpg", "--faces", "--out", out / "vfaces",
        "--quiet", cwd=work)
    run(mg, "remove", out / "box", "--out", out / "removed", "--save-mask", cwd=work)
    run(mg, "remove", out / "mask" / "cat.jpg", "--mask", inputs / "masks", "--out", out / "removed_mask", cwd=work)
    run(mg, "remove", out / "vbox" / "clip.mp4", "--out", out / "vremoved", "--quiet", cwd=work)
    run(mg, "upscale", img / "small.png", "--out", out / "up", cwd=work)
    run(mg, "make-pairs", "--images", img, "--out", out / "pairs", "--size", "64", "--seed", "3", "--quiet", cwd=work)
    ckpt = work / "p2p"
    if not ckpt.exists():
        run(mg, "train", "pix2pix", "--data", out / "pairs", "--out", ckpt, "--load-size", "64", "--crop-size", "64",
            "--net-g", "unet", "--set", "nets.num_downs=6", "--set", "nets.ngf=8", "--set", "nets.ndf=8",
            "--stop-after", "3", "--quiet", "--workers", "0", "--seed", "1", cwd=work)
    run(mg, "translate", img / "small.png", img / "cat.jpg", "--checkpoint", ckpt, "--out", out / "translated",
        cwd=work)
    env_torchrun = [BIN / "torchrun", "--nproc-per-node", "2", "--no-python"]
    run(*env_torchrun, mg, "add", img, "--faces", "--out", out / "tr_faces", "--quiet", cwd=work, check=False)
    run(*env_torchrun, mg, "add", img, "--box", "5,5,30,30", "--out", out / "tr_box", "--quiet", cwd=work)
    listing = []
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out)
        if rel.parts[0] == "pairs" and rel.name == "pairs.jsonl":
            pass  # hashes below like any file
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        line = f"{rel} {digest}"
        if path.suffix in (".mp4", ".mkv", ".webm", ".mov"):
            line += f" frames={frames_hash(path)}"
        listing.append(line)
    result = work / f"{label}.txt"
    result.write_text("\n".join(listing) + "\n")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--label", required=True)
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    print(snapshot(args.work.resolve(), args.label))


if __name__ == "__main__":
    main()
