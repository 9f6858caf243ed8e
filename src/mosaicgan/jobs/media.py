"""The one driver of every media job (add, remove, translate, upscale): what the jobs used to
repeat, in one place, so the CLI, the web page and a Python user all get the same behaviour.

1. The inputs: files, folders and globs expanded, videos told from images by content.
2. The share of this process under torchrun (`ranks.share`): together the processes take
   every input once and write what one process writes.
3. The outputs: planned for every input and checked (never an input, no two inputs on one
   file, nothing replaced without --overwrite, --out writable), and every input checked by the
   job (`MediaJob.check`), all before the first write: a bad input stops the job with one
   line and an untouched --out.
4. The loops: the job's images (`MediaJob.images`, one `ItemResult` per image), then its
   videos (`MediaJob.video`), each with a `Ticker` for progress and cancellation.
5. Under torchrun with a rendezvous address, the processes agree (`ranks.Agreement`): every
   process learns every other's items and errors, so they exit with one status and only rank 0
   reports; a process never exits early and has torchrun stop the others mid-write.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from mosaicgan.atomic import check_writable_dir, check_writable_file
from mosaicgan.data.images import expand_inputs
from mosaicgan.errors import UserError
from mosaicgan.infer.outputs import plan_video_outputs
from mosaicgan.infer.results import ItemResult
from mosaicgan.infer.video.decode import is_media_file
from mosaicgan.jobs.progress import Cancel, OnProgress, Ticker
from mosaicgan.jobs.results import JobResult
from mosaicgan.ranks import Agreement, Ranks, ranks_from_env, share


class MediaJob(Protocol):
    """What a job brings to the driver."""

    command: str
    takes_videos: bool

    def prepare(self, ranks: Ranks) -> None:
        """Check the options and load models (on this process's device)."""

    def check(self, images: list[Path], videos: list[Path], *, out_dir: Path, video_outputs: dict[Path, Path],
              mine: set[Path]) -> dict[Path, list[Path]]:
        """Everything that can fail on the input before the first write; returns the images'
        output plan (input -> [output, ...]). `mine`: this process's images."""

    def images(self, paths: list[Path], plan: dict[Path, list[Path]], ticker: Ticker) -> Iterator[ItemResult]:
        """Work through this process's images, ticking once per image."""

    def video(self, path: Path, out: Path, ticker: Ticker) -> ItemResult:
        """Work through one video, ticking once per frame."""

    def info(self) -> dict:
        """What the job ran with, for the caller's summary (e.g. the restorer's name)."""


def run_media_job(job: MediaJob, inputs: Iterable[str | Path], *, out: str | Path, overwrite: bool = False,
                  progress: OnProgress | None = None, cancel: Cancel | None = None) -> JobResult:
    """Run `job` over `inputs` into `out` (a folder, or a video file name for one video)."""
    ranks = ranks_from_env()
    with Agreement(ranks) as agreement:
        return agreement.run(lambda: _run(job, list(inputs), out=Path(out), overwrite=overwrite, ranks=ranks,
                                          progress=progress, cancel=cancel), merge=_merge)


def _merge(results: list[JobResult], primary: bool) -> JobResult:
    """Every process's items in one result (in input order, as each process sorted its own);
    only rank 0's is `primary` (the one a front end reports)."""
    merged = results[0]
    merged.items = [item for r in results for item in r.items]
    merged.primary = primary
    order = {}
    for r in results:
        order.update(r.order)
    merged.items.sort(key=lambda item: order.get(item.input, len(order)))
    return merged


def _run(job: MediaJob, inputs: list[str | Path], *, out: Path, overwrite: bool, ranks: Ranks,
         progress: OnProgress | None, cancel: Cancel | None) -> JobResult:
    job.prepare(ranks)
    paths = expand_inputs(inputs)
    videos = [p for p in paths if is_media_file(p)]
    if videos and not job.takes_videos:
        raise UserError(f"a video; `{job.command}` works on images (extract frames first)", path=videos[0])
    video_set = set(videos)
    images = [p for p in paths if p not in video_set]
    mine_images, mine_videos = share(images, ranks), share(videos, ranks)
    out_dir, video_outputs = out, {}
    if videos:
        out_dir, video_outputs = plan_video_outputs(videos, out, images=bool(images), overwrite=overwrite,
                                                    mine=set(mine_videos))
    if out_dir == out:
        check_writable_dir(out)
    else:
        check_writable_file(out, flag="--out")
    plan = job.check(images, videos, out_dir=out_dir, video_outputs=video_outputs, mine=set(mine_images))
    # Nothing is written before this line.
    result = JobResult(command=job.command, out_dir=out_dir, inputs=len(paths), info=job.info())
    if mine_images:
        ticker = Ticker(input=None, unit="image", total=len(mine_images), progress=progress, cancel=cancel)
        ticker.refresh()
        result.items.extend(job.images(mine_images, plan, ticker))
    for video in mine_videos:
        ticker = Ticker(input=video, unit="frame", progress=progress, cancel=cancel)
        ticker.refresh()
        result.items.append(job.video(video, video_outputs[video], ticker))
    result.order = {p: k for k, p in enumerate(paths)}
    result.items.sort(key=lambda item: result.order.get(item.input, len(result.order)))
    return result
