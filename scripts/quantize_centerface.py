"""Make the int8 CenterFace that the video face search runs (`assets/centerface_int8.onnx`).

A maintainer tool, run once per change of the shipped detector; nothing in the package imports
it. The shipped float16 checkpoint (`assets/centerface.safetensors`) is exported to ONNX in
float32 (`localize/faces/onnx_engine.export_model`, the model the video search ran before) and
quantized statically by onnxruntime: int8 weights per output channel, uint8 activations whose
ranges (min-max) are measured on calibration photos, QDQ format; the output head (the 3x3
convolution after the last merge, the heatmap, its sigmoid and the box and landmark maps) stays
float32: quantized, its heatmap peaked at 0.26-0.41 where float32 peaks at 0.95, with six times the
chance peaks (a crowd frame), and the head is a small part of the work. The calibration photos are the
first --count photos of Sun_Hays80 in name order (the training split of ../shared/data: web
photos of 80 scene categories, some with people), each resized so its long side is --side and
both sides are multiples of 32. Needs onnx and onnxruntime (the `onnx` extra). Rerun, from the
repository root:

    PYTHONPATH=src .venv/bin/python scripts/quantize_centerface.py --photos ../shared/data/Sun_Hays80 \\
        --out src/mosaicgan/assets/centerface_int8.onnx

What it measured is in the model card (assets/README.md) and docs/performance.md.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from mosaicgan.localize.faces.centerface import load_face_detector
from mosaicgan.localize.faces.onnx_engine import export_model

# Nodes of the exported graph that stay float32 (names from nets.centerface's modules).
HEAD = ("/net/head/", "/net/heatmap/", "/net/Sigmoid", "/net/scale/", "/net/offset/", "/net/landmarks/")


def calibration_inputs(folder: Path, *, count: int, side: int) -> list[np.ndarray]:
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))[:count]
    if len(photos) < count:
        raise SystemExit(f"{folder}: {len(photos)} photos, --count asks for {count}")
    inputs = []
    for path in photos:
        image = Image.open(path).convert("RGB")
        scale = side / max(image.size)
        size = tuple(max(32, round(v * scale / 32) * 32) for v in image.size)
        array = np.asarray(image.resize(size, Image.BICUBIC), dtype=np.float32) / 127.5 - 1.0
        inputs.append(array.transpose(2, 0, 1)[None].copy())
    return inputs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, required=True, help="calibration photos (Sun_Hays80)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--count", type=int, default=32)
    parser.add_argument("--side", type=int, default=512)
    args = parser.parse_args()

    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    inputs = calibration_inputs(args.photos, count=args.count, side=args.side)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter({"x": x} for x in inputs)

        def get_next(self):
            return next(self.items, None)

    detector = load_face_detector()
    with tempfile.TemporaryDirectory() as tmp:
        plain, prepared, quantized = (Path(tmp) / name for name in ("fp32.onnx", "prepared.onnx", "int8.onnx"))
        plain.write_bytes(export_model(detector.net))
        # The input's height and width are free (any frame size): no symbolic shapes to infer.
        quant_pre_process(str(plain), str(prepared), skip_symbolic_shape=True)
        import onnx

        head = [n.name for n in onnx.load(str(prepared)).graph.node if n.name.startswith(HEAD)]
        if not head:
            raise SystemExit("no head nodes found: did the network's module names change?")
        quantize_static(str(prepared), str(quantized), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, nodes_to_exclude=head)
        data = quantized.read_bytes()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_name(args.out.name + ".partial")
    partial.write_bytes(data)
    partial.replace(args.out)
    print(f"wrote {args.out} ({len(data):,} bytes) from {len(inputs)} calibration photos of {args.photos}")


if __name__ == "__main__":
    main()
