"""The public Python API: every media job as one function, the same ones the CLI and the web
page call.

    from mosaicgan import jobs

    result = jobs.add(["photos/"], out="blurred/",
                      options=jobs.AddOptions(region=jobs.RegionRequest(kind="faces")))
    for item in result.items:
        print(item.input, item.status, item.outputs, item.regions)

Each job takes inputs (files, folders, glob patterns; images and videos told apart by
content), an output folder and a typed options object, plus optional `progress` (called with
a `Progress` after each image and video frame) and `cancel` (polled as often; True stops the
job with `Cancelled`). Every check that can fail runs before the first write and raises
`mosaicgan.errors.UserError` with one line naming the file or option. The result lists one
`ItemResult` per input: its outputs, the regions found, and why an input was not written.
See docs/python-api.md.
"""

from mosaicgan.infer.add.chosen import Also
from mosaicgan.infer.add.core import MosaicOptions
from mosaicgan.infer.add.regions import RegionRequest
from mosaicgan.infer.add.video_stage import AddVideoOptions
from mosaicgan.infer.make_pairs import PairsOptions, PairsSummary
from mosaicgan.infer.video.encode import EncodeOptions
from mosaicgan.infer.video.steady import TrackingOptions
from mosaicgan.jobs.add import AddOptions, add
from mosaicgan.jobs.make_pairs import make_pairs
from mosaicgan.jobs.progress import Cancelled, Progress
from mosaicgan.jobs.remove import RemoveOptions, remove
from mosaicgan.jobs.results import NOTHING_DONE, NOTHING_FOUND, SHRUNK_AWAY, WRITTEN, ItemResult, JobResult
from mosaicgan.jobs.translate import TranslateOptions, translate
from mosaicgan.jobs.upscale import UpscaleOptions, upscale
from mosaicgan.ops.grid import Grid

__all__ = [
    "Also",
    "NOTHING_DONE",
    "NOTHING_FOUND",
    "SHRUNK_AWAY",
    "WRITTEN",
    "AddOptions",
    "AddVideoOptions",
    "Cancelled",
    "EncodeOptions",
    "Grid",
    "ItemResult",
    "JobResult",
    "MosaicOptions",
    "PairsOptions",
    "PairsSummary",
    "Progress",
    "RegionRequest",
    "RemoveOptions",
    "TrackingOptions",
    "TranslateOptions",
    "UpscaleOptions",
    "add",
    "make_pairs",
    "remove",
    "translate",
    "upscale",
]
