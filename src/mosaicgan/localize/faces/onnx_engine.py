"""CenterFace through onnxruntime, for the face searches of a video (`FaceDetector.onnxruntime`).

On a CPU, onnxruntime runs this network in float32 faster than torch does even in bf16, and
much faster for small inputs, where torch's per-call overhead dominates (1 thread, CPU ms per
call on the 2-core AMD EPYC VM with AVX512-BF16, torch 2.13, onnxruntime 1.32, machine loaded:
96 x 96: 0.9 against 5.4; 12 windows of 96 x 96: 9.0 against 12.2; 1280 x 736: 97 against 113).
The model is exported from the loaded weights when first asked for (about 1-2 s: why images,
a second or so of work each, keep torch), in memory; nothing is downloaded or written.

int8: the video search runs `assets/centerface_int8.onnx` where it is shipped: the same network
with int8 weights and activations (static quantization by scripts/quantize_centerface.py, model card
in assets/README.md), 1.6x faster at 1280 x 736 on this CPU (AVX512-VNNI) and the same faces in the
benchmarks (docs/performance.md); only for a detector that runs the shipped weights. Calls that
ask for float32 (the mirror scores near the threshold, the windows that confirm faces under 16
pixels) get the float32 export, or torch where the export fails.

Optional: without onnxruntime and onnx (the `onnx` extra), or on a torch whose exporter fails,
`onnx_engine` gives None and the detector keeps torch.
"""

from __future__ import annotations

import importlib.resources
import io
import threading
import warnings

import torch
from torch import nn

OUTPUTS = ("heatmap", "scale", "offset", "landmarks")
_lock = threading.Lock()


class _Outputs(nn.Module):
    """The network's dict of maps as a tuple (what the exporter takes)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        maps = self.net(x)
        return tuple(maps[k] for k in OUTPUTS)


INT8_MODEL = "centerface_int8.onnx"


def export_model(net: nn.Module) -> bytes:
    """CenterFace as an ONNX model (float32, any batch and input size; outputs OUTPUTS)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(_Outputs(net).eval(), torch.zeros(1, 3, 96, 96), buffer, input_names=["x"],
                          output_names=list(OUTPUTS), dynamic_axes={"x": {0: "n", 2: "h", 3: "w"}},
                          opset_version=17, dynamo=False)
    return buffer.getvalue()


def int8_model() -> bytes | None:
    """The shipped int8 model's bytes, or None where the package has none."""
    path = importlib.resources.files("mosaicgan") / "assets" / INT8_MODEL
    return path.read_bytes() if path.is_file() else None


class OnnxEngine:
    """`engine(inputs)` -> the network's maps (float32 CPU tensors) for inputs (N, 3, h, w).
    int8: whether the model is the quantized one (its `threads` make the float32 one alike)."""

    def __init__(self, model: bytes, *, threads: int, int8: bool = False) -> None:
        self.threads, self.int8 = threads, int8
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Threads that wait sleep: the video pipeline's other stages want the cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])

    def __call__(self, inputs: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.session.run(None, {"x": inputs.float().contiguous().numpy()})
        return {k: torch.from_numpy(v) for k, v in zip(OUTPUTS, out, strict=True)}


def onnx_engine(net: nn.Module, *, threads: int, cache: dict, int8: bool = False) -> OnnxEngine | None:
    """An engine for `net` (CenterFace on the CPU), made once per thread count and kind and
    kept in `cache` (the detector's); None where onnxruntime or the export is not available.
    int8: the shipped int8 model where there is one (else the float32 export)."""
    with _lock:
        key = (threads, int8)
        if key in cache:
            return cache[key]
        engine = None
        try:
            quantized = int8_model() if int8 else None
            if quantized is not None:
                engine = OnnxEngine(quantized, threads=threads, int8=True)
            else:
                model = cache.get("model")
                if model is None:
                    model = cache["model"] = export_model(net)
                engine = OnnxEngine(model, threads=threads)
        except Exception:  # noqa: BLE001  (no onnxruntime/onnx, or an exporter that fails: torch runs it)
            engine = None
        cache[key] = engine
        return engine
