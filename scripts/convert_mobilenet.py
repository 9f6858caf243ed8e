"""Convert the quantized TFLite MobileNetV2 (ImageNet) into the shipped mosaicgan checkpoint.

A maintainer tool, run once; nothing in the package imports it. Reads the flatbuffer with the
`tflite` parser, dequantizes every weight (per-tensor uint8: scale * (q - zero_point); int32
biases: scale * q), maps the TF layouts onto `mosaicgan.nets.mobilenet_v2.MobileNetV2` in
graph order (checking kind, shape, stride, padding and activation of every layer on the way)
and writes a "classifier" checkpoint whose extra holds the 1001 labels and the provenance.

With `--check DIR ...` it then runs the TFLite interpreter (ai-edge-litert) and the written
checkpoint on every photo under DIR and prints a table of top-1 classes and the agreement.
The TFLite logits are the tensor feeding SOFTMAX (the uint8 softmax is too coarse), read with
`experimental_preserve_all_tensors=True`.

Needs torch, safetensors, numpy, pillow, tflite and ai-edge-litert in one environment (the
project's venv has no TFLite runtime). Rerun, from the repository root:

    python -m venv /tmp/tfl && /tmp/tfl/bin/pip install ai-edge-litert tflite torch==2.13.0 safetensors pillow
    PYTHONPATH=src /tmp/tfl/bin/python scripts/convert_mobilenet.py \
        --tflite ../shared/models/mobilenet_v2_1.0_224_quant.tflite \
        --out src/mosaicgan/assets/mobilenet_v2_imagenet.safetensors \
        --check ../shared/data --table /tmp/agreement.md
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from mosaicgan.checkpoint import load_checkpoint, save_checkpoint
from mosaicgan.nets import get_net
from mosaicgan.nets.mobilenet_v2 import SamePad

SOURCE = {
    "repository": "google-coral/test_data",
    "commit": "104342d2d3480b3e66203073dac24f4e2dbb4c41",
    "path": "mobilenet_v2_1.0_224_quant.tflite",
    "labels_path": "imagenet_labels.txt",
    "license": "Apache-2.0",
}
# Files under shared/data that are not photographs (shared/data/README.md lists them).
NOT_PHOTOS = ("checker", "rgb6X4", "mnist_nine", "segmentation_mask", "posenet/mask", "Set14/ppt3", "Set14/comic")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
SIZE = 224  # the TFLite model's fixed input side


@dataclass
class TfLayer:
    op: str  # CONV_2D or DEPTHWISE_CONV_2D
    weight: np.ndarray  # dequantized, TF layout (OHWI, or 1HWO for depthwise)
    bias: np.ndarray
    stride: int
    padding: str  # SAME or VALID
    relu6: bool
    name: str


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def read_tflite(path: Path) -> tuple[list[TfLayer], int]:
    """Convolutions in graph order, dequantized; plus the number of residual ADDs."""
    import tflite  # maintainer-only dependency

    model = tflite.Model.GetRootAsModel(path.read_bytes(), 0)
    graph = model.Subgraphs(0)

    def tensor_values(index: int) -> np.ndarray:
        tensor = graph.Tensors(index)
        raw = model.Buffers(tensor.Buffer()).DataAsNumpy()
        dtype = {tflite.TensorType.UINT8: np.uint8, tflite.TensorType.INT32: np.int32}[tensor.Type()]
        q = np.frombuffer(raw.tobytes(), dtype=dtype).reshape(tensor.ShapeAsNumpy())
        quant = tensor.Quantization()
        if quant.ScaleLength() != 1:  # the whole conversion assumes per-tensor quantization
            raise SystemExit(f"tensor {index} has {quant.ScaleLength()} scales; expected per-tensor quantization")
        scale, zero = float(quant.Scale(0)), int(quant.ZeroPoint(0))
        return (scale * (q.astype(np.float64) - zero)).astype(np.float32)

    layers: list[TfLayer] = []
    adds = 0
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        code = model.OperatorCodes(op.OpcodeIndex())
        name = tflite.opcode2name(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()))
        if name == "ADD":
            adds += 1
        if name not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        table = op.BuiltinOptions()
        options = tflite.Conv2DOptions() if name == "CONV_2D" else tflite.DepthwiseConv2DOptions()
        options.Init(table.Bytes, table.Pos)
        if name == "DEPTHWISE_CONV_2D" and options.DepthMultiplier() != 1:
            raise SystemExit(f"operator {i}: depth multiplier {options.DepthMultiplier()} is not supported")
        if options.StrideH() != options.StrideW():
            raise SystemExit(f"operator {i}: unequal strides")
        act = options.FusedActivationFunction()
        if act not in (tflite.ActivationFunctionType.NONE, tflite.ActivationFunctionType.RELU6):
            raise SystemExit(f"operator {i}: unexpected fused activation {act}")
        inputs = op.InputsAsNumpy()
        layers.append(TfLayer(
            op=name,
            weight=tensor_values(inputs[1]),
            bias=tensor_values(inputs[2]),
            stride=options.StrideH(),
            padding="SAME" if options.Padding() == tflite.Padding.SAME else "VALID",
            relu6=act == tflite.ActivationFunctionType.RELU6,
            name=graph.Tensors(inputs[1]).Name().decode().split(";")[0],
        ))
    return layers, adds


def torch_convs(net: nn.Module) -> list[tuple[nn.Conv2d, bool, bool]]:
    """(conv, followed by ReLU6, explicitly SAME-padded) for every feature convolution, in order."""
    found = []
    for module in net.features.modules():
        if isinstance(module, nn.Sequential) and any(isinstance(m, nn.Conv2d) for m in module.children()):
            children = list(module.children())
            conv = next(m for m in children if isinstance(m, nn.Conv2d))
            found.append((conv, any(isinstance(m, nn.ReLU6) for m in children),
                          any(isinstance(m, SamePad) for m in children)))
    return found


def convert(layers: list[TfLayer], adds: int) -> nn.Module:
    net = get_net("mobilenet_v2", num_classes=layers[-1].weight.shape[0])
    convs = torch_convs(net)
    if len(convs) + 1 != len(layers):
        raise SystemExit(f"TFLite graph has {len(layers)} convolutions; the PyTorch net has {len(convs) + 1}")
    residuals = sum(getattr(m, "use_residual", False) for m in net.modules())
    if residuals != adds:
        raise SystemExit(f"TFLite graph has {adds} ADDs; the PyTorch net has {residuals} residual blocks")
    with torch.no_grad():
        for (conv, relu6, same_pad), layer in zip(convs, layers[:-1], strict=True):
            if layer.op == "DEPTHWISE_CONV_2D":
                weight = layer.weight[0].transpose(2, 0, 1)[:, None]  # 1HWO -> O1HW
                if conv.groups != conv.in_channels:
                    raise SystemExit(f"{layer.name}: depthwise in TFLite, not in PyTorch")
            else:
                weight = layer.weight.transpose(0, 3, 1, 2)  # OHWI -> OIHW
                if conv.groups != 1:
                    raise SystemExit(f"{layer.name}: grouped in PyTorch, plain in TFLite")
            kernel = weight.shape[-1]
            # PyTorch's symmetric padding equals TF SAME only at stride 1; stride 2 needs SamePad.
            expected_same = layer.padding == "SAME" and kernel > 1 and layer.stride > 1
            checks = {
                "shape": tuple(conv.weight.shape) == weight.shape,
                "stride": conv.stride == (layer.stride, layer.stride),
                "padding": same_pad == expected_same and (layer.padding == "SAME" or kernel == 1),
                "activation": relu6 == layer.relu6,
            }
            bad = [k for k, ok in checks.items() if not ok]
            if bad:
                raise SystemExit(f"{layer.name}: {', '.join(bad)} differ "
                                 f"(TFLite {weight.shape}, PyTorch {tuple(conv.weight.shape)})")
            conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(weight)))
            conv.bias.copy_(torch.from_numpy(layer.bias))
        head = layers[-1]  # 1x1 conv 1280 -> classes after the 7x7 average pool == linear after the global mean
        if head.relu6 or head.weight.shape[1:3] != (1, 1):
            raise SystemExit(f"{head.name}: expected a 1x1 logits convolution without activation")
        net.classifier.weight.copy_(torch.from_numpy(np.ascontiguousarray(head.weight[:, 0, 0, :])))
        net.classifier.bias.copy_(torch.from_numpy(head.bias))
    return net.eval()


def list_photos(folders: list[Path]) -> list[tuple[Path, str]]:
    """(path, name relative to the folder's parent) of every photo under the folders."""
    photos = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder.parent).as_posix()
            if path.suffix.lower() in IMAGE_SUFFIXES and not any(part in rel for part in NOT_PHOTOS):
                photos.append((path, rel))
    return photos


def center_square(path: Path) -> np.ndarray:
    """The same 224x224 RGB uint8 input for both models: central square crop, then resize."""
    with Image.open(path) as img:
        img = img.convert("RGB")
        side = min(img.size)
        left, top = (img.width - side) // 2, (img.height - side) // 2
        img = img.crop((left, top, left + side, top + side)).resize((SIZE, SIZE), Image.BILINEAR)
        return np.array(img, dtype=np.uint8)


def check(checkpoint: Path, tflite_path: Path, folders: list[Path], table: Path | None) -> float:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType  # maintainer-only dependency

    # Without default delegates: the reference uint8 kernels, and every tensor readable.
    interp = Interpreter(model_path=str(tflite_path), experimental_preserve_all_tensors=True,
                         experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    ops = interp._get_ops_details()
    softmax = next(op for op in ops if op["op_name"] == "SOFTMAX")
    logits_index = int(softmax["inputs"][0])
    details = {t["index"]: t for t in interp.get_tensor_details()}
    logit_scale, logit_zero = details[logits_index]["quantization"]
    input_index = interp.get_input_details()[0]["index"]

    ckpt = load_checkpoint(checkpoint, kind="classifier")
    net, labels = ckpt.nets["classifier"], ckpt.extra["labels"]

    rows = []
    for path, rel in list_photos(folders):
        pixels = center_square(path)
        interp.set_tensor(input_index, pixels[None])
        interp.invoke()
        tfl_logits = logit_scale * (interp.get_tensor(logits_index).reshape(-1).astype(np.float32) - logit_zero)
        x = torch.from_numpy(pixels).permute(2, 0, 1)[None].float().sub(128).div(128)  # the input quantization
        with torch.no_grad():
            pt_logits = net(x)[0].numpy()
        a, b = int(tfl_logits.argmax()), int(pt_logits.argmax())
        # How far PyTorch's choice is behind TFLite's in TFLite's own logits (one uint8 step is `logit_scale`).
        rows.append((rel, a, b, float(tfl_logits[a] - tfl_logits[b])))
    agree = sum(a == b for _, a, b, _ in rows)
    percent = 100.0 * agree / len(rows)
    lines = ["| image | TFLite top-1 | PyTorch top-1 | agree | TFLite logit gap |", "| --- | --- | --- | --- | ---: |"]
    for rel, a, b, gap in rows:
        verdict, gap_text = ("yes", "") if a == b else ("NO", f"{gap:.2f}")
        tfl_name, pt_name = labels[a].split(",")[0], labels[b].split(",")[0]
        lines.append(f"| {rel} | {a} {tfl_name} | {b} {pt_name} | {verdict} | {gap_text} |")
    gaps = sorted(gap for *_, gap in rows if gap > 0)
    lines.append(f"\nTop-1 agreement: {agree}/{len(rows)} = {percent:.1f}%")
    if gaps:
        lines.append(f"Disagreements: TFLite ranks PyTorch's class {gaps[0]:.2f} to {gaps[-1]:.2f} logits "
                     "below its own "
                     f"(median {gaps[len(gaps) // 2]:.2f}; one uint8 step of the logits is {logit_scale:.3f}).")
    text = "\n".join(lines)
    print(text)
    if table is not None:
        table.write_text(text + "\n")
    return percent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tflite", type=Path, required=True)
    parser.add_argument("--labels", type=Path, help="default: imagenet_labels.txt beside the .tflite")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--dtype", choices=("float16", "float32"), default="float16",
                        help="storage of the dequantized weights (float16 keeps the file under 10 MB)")
    parser.add_argument("--check", type=Path, nargs="*", default=[], help="folders of photos to compare on")
    parser.add_argument("--table", type=Path, help="also write the comparison table (markdown) here")
    args = parser.parse_args(argv)

    labels_path = args.labels or args.tflite.with_name(SOURCE["labels_path"])
    labels = labels_path.read_text().splitlines()
    layers, adds = read_tflite(args.tflite)
    net = convert(layers, adds)
    if len(labels) != net.classifier.out_features:
        raise SystemExit(f"{labels_path} has {len(labels)} labels; the model has {net.classifier.out_features} classes")
    digest = sha256(args.tflite)
    extra = {
        "labels": labels,
        "source": {**SOURCE, "sha256": digest, "labels_sha256": sha256(labels_path)},
        "note": "dequantized float weights of a uint8-quantized TFLite model, "
                "converted by scripts/convert_mobilenet.py; "
                "input RGB in [-1, 1], trained at 224x224; class 0 is background",
    }
    # Half precision keeps 11 significant bits, far finer than the 8-bit codes the weights came from.
    net = net.to(getattr(torch, args.dtype))
    save_checkpoint(args.out, kind="classifier", nets={"classifier": net}, config={}, extra=extra)
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes) from {args.tflite.name} (sha256 {digest})")
    if args.check:
        start = time.time()
        check(args.out, args.tflite, args.check, args.table)
        print(f"checked in {time.time() - start:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
