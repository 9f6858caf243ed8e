"""A checkpoint's network as an ONNX file, for onnxruntime and other engines (no torch needed).

What is exported: a pix2pix or CycleGAN generator (one direction; so for the rest of the unpaired
family, whose two-way networks give one direction as `nets.two_way.OneWay`), or the mosaic
restorer. CoGAN is refused: its translation is an optimisation per image (latent inversion).
Batch, height and width are dynamic axes. The graph holds only the network: a U-Net needs H and
W multiples of its size multiple (`mosaicgan.size_multiple` in the file's metadata; pad as
`infer.translator.pad_to_multiple` does, reflection, then crop), values in [-1, 1], NCHW float32.
The restorer takes the lattice features of `ops.unmosaic.lattice_features`, not an image; one
with a recipe head (`nets.restorer`) is written as it reads block means (the recipe of
`mosaicgan add`), without the head.

`torch.onnx.export` (the torch.export-based exporter) needs the `onnx` and `onnxscript`
packages, and the parity check needs `onnxruntime`: all three are the optional extra
`mosaicgan[onnx]`; nothing else in mosaicgan imports them.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mosaicgan import __version__
from mosaicgan.atomic import atomic_path
from mosaicgan.checkpoint import load_checkpoint, read_metadata
from mosaicgan.errors import UserError
from mosaicgan.models import MODELS
from mosaicgan.nets.two_way import one_way

EXPORTER_PACKAGES = ("onnx", "onnxscript")
OPSET = 18
# The oldest torch whose exporter gives graphs that pass the tests (2.3.1 has no dynamic_shapes,
# 2.6.0 fails inside torch; 2.7.1 passes with the choices in `export_onnx`).
MIN_TORCH = "2.7"  # compared as a version by torch.__version__
# The axes left free in the graph (NCHW); the batch bounded (torch 2.7 found an unbounded one to
# violate a constraint; the bound does not reach the file: onnxruntime ran a batch of 4100 on
# torch 2.13's graph).
DYNAMIC_AXES = {0: "batch", 2: "height", 3: "width"}
MAX_BATCH = 4096
# Parity of onnxruntime with torch on the example input: float32 kernels that differ in their
# order of summation stay within ~1e-5 here; more than this is an exporter fault, not rounding.
PARITY_TOLERANCE = 1e-4


@dataclass
class Exported:
    path: Path
    net: nn.Module
    example: torch.Tensor  # an input the exported graph takes (for a parity check)
    input_name: str
    max_diff: float | None = None  # onnxruntime vs torch on `example`; None: onnxruntime absent


def missing_packages(names: tuple[str, ...] = EXPORTER_PACKAGES) -> list[str]:
    return [name for name in names if importlib.util.find_spec(name) is None]


def pick_network(ckpt_path: str | Path, *, direction: str) -> tuple[str, str]:
    """(kind, network key) of what `export` takes from a checkpoint; UserError for the others."""
    meta = read_metadata(ckpt_path)
    kind = meta["kind"]
    if kind == "restorer":
        return kind, "restorer"
    generators = MODELS[kind].generators if kind in MODELS else {}
    if not generators:
        raise UserError(f"a {kind} checkpoint has no generator to export (export takes the checkpoints that "
                        "translate takes, and restorer checkpoints)", path=ckpt_path)
    if direction not in generators:
        raise UserError(f"a {kind} checkpoint translates {', '.join(generators)} only, not {direction}",
                        path=ckpt_path)
    return kind, generators[direction]


def example_input(net: nn.Module, *, kind: str) -> tuple[torch.Tensor, str]:
    """A small input of the shape the network takes, and its name in the graph. Two multiples a
    side at least: at one, a U-Net's bottleneck is 1 x 1 and the exporter would fix the size.
    A batch of 2: from a batch of 1, torch 2.8's exporter fixed the batch at 1 without a word,
    and a parity check on a batch of 1 could not see it."""
    if kind == "restorer":
        from mosaicgan.nets.restorer import FEATURES

        return torch.zeros(2, FEATURES, 8, 8), "features"
    spec = net.build_spec["kwargs"]
    multiple = int(getattr(net, "size_multiple", 1))
    side = -(-max(64, 2 * multiple) // multiple) * multiple
    return torch.rand(2, int(spec.get("in_channels", 3)), side, side) * 2 - 1, "image"


def fixed_axes(shape) -> list[str]:
    """The names of the DYNAMIC_AXES that an ONNX value's shape (onnx_ir: ints and symbols) holds
    as numbers."""
    if shape is None:
        return []
    return [name for axis, name in DYNAMIC_AXES.items() if axis < len(shape) and isinstance(shape[axis], int)]


@contextlib.contextmanager
def _quiet():
    """The exporter logs and warns about things that are no concern of the user (torchvision
    ops it skips, deprecations inside torch); its errors still raise."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def torch_exports_onnx() -> bool:
    """Whether this torch's ONNX exporter is one the export works with (MIN_TORCH or newer)."""
    return torch.__version__ >= MIN_TORCH


def export_onnx(ckpt_path: str | Path, *, out: str | Path, direction: str = "AtoB") -> Exported:
    """Write the network of a checkpoint to `out` (atomically); see the module docstring."""
    kind, key = pick_network(ckpt_path, direction=direction)
    missing = missing_packages()
    if missing:
        raise UserError(f"export --format onnx needs the {' and '.join(missing)} package"
                        f"{'s' if len(missing) > 1 else ''}: pip install 'mosaicgan[onnx]'")
    # What the checkpoint is and whether a graph can hold it is said first, on any torch.
    ckpt = load_checkpoint(ckpt_path, only=[key])
    net = one_way(ckpt.nets[key].float(), direction).eval()  # the shipped restorer is stored in fp16
    if not getattr(net, "exportable", True):
        raise UserError(f"a {kind} checkpoint translates by an optimisation per image (latent inversion), "
                        "which an ONNX graph cannot hold; nothing written", path=ckpt_path)
    if not torch_exports_onnx():
        raise UserError(f"export --format onnx needs torch >= {MIN_TORCH} (its ONNX exporter), "
                        f"this is torch {torch.__version__}")
    for m in net.modules():  # dropout at test time is a torch-side choice; the graph is deterministic
        if isinstance(m, nn.Dropout):
            m.eval()
    example, input_name = example_input(net, kind=kind)
    dims = {axis: torch.export.Dim(name, max=MAX_BATCH if axis == 0 else None) for axis, name in DYNAMIC_AXES.items()}
    out = Path(out)
    with _quiet():  # the shapes by position: torch 2.6 re-keyed a dict by input_names and failed
        program = torch.onnx.export(net, (example,), input_names=[input_name], output_names=["output"],
                                    dynamic_shapes=(dims,), dynamo=True, opset_version=OPSET, verbose=False)
    # What the file says of its shapes, not what was asked: torch 2.8's exporter fixed the batch
    # of a batch-1 example at 1 without a word.
    for value in (*program.model.graph.inputs, *program.model.graph.outputs):
        fixed = fixed_axes(value.shape)
        if fixed:
            raise UserError(f"torch {torch.__version__}'s exporter fixed the {' and '.join(fixed)} of the graph's "
                            f"{value.name!r}; nothing written", path=out)
    props = program.model.metadata_props
    props.update({
        "mosaicgan.version": __version__,
        "mosaicgan.kind": kind,
        "mosaicgan.network": key,
        "mosaicgan.net_spec": str(net.build_spec),
        "mosaicgan.size_multiple": str(int(getattr(net, "size_multiple", 1))),
        "mosaicgan.value_range": "[-1, 1]",
    })
    exported = Exported(path=out, net=net, example=example, input_name=input_name)
    with atomic_path(out) as tmp:
        with _quiet():
            program.save(str(tmp))
        # Checked before the file takes its name: a graph that computes something else is not written.
        try:
            exported.max_diff = onnxruntime_max_diff(exported, path=tmp)
        except Exception as err:  # noqa: BLE001  (onnxruntime's errors are its own classes)
            raise UserError(f"onnxruntime cannot run the exported graph on the example input "
                            f"({' '.join(str(err).split())[:160]}); nothing written", path=out) from None
        if exported.max_diff is not None and exported.max_diff > PARITY_TOLERANCE:
            raise UserError(f"the exported graph differs from PyTorch by {exported.max_diff:.2e} under onnxruntime "
                            f"(more than {PARITY_TOLERANCE:g}); nothing written", path=out)
    return exported


def onnxruntime_max_diff(exported: Exported, inputs: list[torch.Tensor] | None = None,
                         path: Path | None = None) -> float | None:
    """Largest |onnxruntime - torch| over `inputs` (default: the export's example) with the file
    at `path` (default: the export's); None when onnxruntime is not installed."""
    if missing_packages(("onnxruntime",)):
        return None
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path or exported.path), providers=["CPUExecutionProvider"])
    worst = 0.0
    for x in inputs or [exported.example]:
        with torch.no_grad():
            ref = exported.net(x).numpy()
        got = session.run(None, {exported.input_name: x.numpy()})[0]
        if got.shape != ref.shape:
            raise RuntimeError(f"onnxruntime gave {got.shape} where torch gives {ref.shape}")
        worst = max(worst, float(abs(got - ref).max()))
    return worst
