"""Output planning: which files a command will write under --out, decided (and checked) for
every input before the first file is written.

One rule for every command that writes one or more files per input (add, translate, and
what follows them): an output never replaces an input, no two inputs may write the same
file, and a file already in --out is replaced only when the user said --overwrite. A plan is
a dict input -> its output paths, in the order the command names them.

Output paths are resolved up to their folder, never through their own name: an output name
in --out that is a symbolic link is replaced by the new file (the link goes, with
--overwrite), and whatever it pointed to is left as it was (`atomic.atomic_path` renames over
the link itself). Following the link would write outside --out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from mosaicgan.atomic import remove_stale_temporaries
from mosaicgan.errors import UserError


def plan_outputs(inputs: list[Path], out_dir: str | Path, *, names: Callable[[Path], list[str]],
                 overwrite: bool = False, mine: Collection[Path] | None = None) -> dict[Path, list[Path]]:
    """For each input, `names(input)` (file names) placed in `out_dir`, resolved.

    An output that is one of the inputs, one that two inputs would both write, or (unless
    `overwrite`) one that exists already, is a UserError naming it. With `mine` (this process's
    share of the inputs, under torchrun) only their outputs are checked for existing files: the
    other processes may be writing theirs already.
    """
    out_dir = Path(out_dir).resolve()
    sources = {p.resolve() for p in inputs}
    taken: dict[Path, Path] = {}
    plan = {}
    for path in inputs:
        outs = []
        for name in names(path):
            out = out_dir / name  # not resolved: a link there is replaced, not written through
            if out in sources or (out.is_symlink() and out.resolve() in sources):
                raise UserError("output would overwrite an input; choose another --out", path=out)
            if out in taken:
                raise UserError(f"two inputs would both write {out.name} ({taken[out]} and {path})", path=path)
            if not overwrite and (mine is None or path in mine) and (out.exists() or out.is_symlink()):
                raise UserError("already exists; give --overwrite to replace it, or choose another --out", path=out)
            taken[out] = path
            outs.append(out)
        plan[path] = outs
    # What a killed run left beside these outputs (`.NAME.XXXXXXXX.tmp`, see atomic_path):
    # deleted now, unless another process is writing it.
    remove_stale_temporaries(out_dir, names=[out.name for out in taken])
    return plan


def same_name(path: Path) -> list[str]:
    """The input's own file name (and so its format): `add`."""
    return [path.name]


def png_names(*, samples: int = 1) -> Callable[[Path], list[str]]:
    """NAME.png, or NAME_s0.png ... NAME_s{K-1}.png for K samples: `translate`."""
    def names(path: Path) -> list[str]:
        return [f"{path.stem}.png"] if samples == 1 else [f"{path.stem}_s{k}.png" for k in range(samples)]

    return names


def with_mask_name(names: Callable[[Path], list[str]]) -> Callable[[Path], list[str]]:
    """`names` plus NAME_mask.png, the mask as applied, last."""
    return lambda path: [*names(path), f"{path.stem}_mask.png"]


def video_name(path: Path) -> str:
    """The output's name for --out DIR: the input's name, or NAME.mp4 where the input's
    container is not one `add` writes (MPEG-TS, Ogg)."""
    from mosaicgan.infer.video.encode import OUTPUT_FORMATS

    return path.name if path.suffix.lower() in OUTPUT_FORMATS else f"{path.stem}.mp4"


def plan_video_outputs(videos: list[Path], out: Path, *, images: bool = False, overwrite: bool = False,
                       mine: Collection[Path] | None = None) -> tuple[Path, dict[Path, Path]]:
    """(the output folder, video -> output file). --out names a file when it has a video
    extension, is not a folder and there is one video (and no image); otherwise a folder.
    `mine`: as for `plan_outputs`."""
    from mosaicgan.infer.video.encode import OUTPUT_FORMATS

    out = Path(out)
    as_file = out.suffix.lower() in OUTPUT_FORMATS and not out.is_dir()
    if as_file and (len(videos) != 1 or images):
        raise UserError("--out is a video file name, but there is more than one input; give a folder", path=out)
    if as_file:
        plan = plan_outputs(videos, out.parent, names=lambda p: [out.name], overwrite=overwrite,
                            mine=mine)
        return out.parent, {v: outs[0] for v, outs in plan.items()}
    plan = plan_outputs(videos, out, names=lambda p: [video_name(p)], overwrite=overwrite, mine=mine)
    return out, {v: outs[0] for v, outs in plan.items()}
