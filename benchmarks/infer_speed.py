"""Inference speed and peak memory of a pix2pix generator (unet_256) at 256x256, 1080p and
12 MP (4000x3000): whole image vs tiles vs bf16 vs onnxruntime, as ratios in one run.

    .venv/bin/python benchmarks/infer_speed.py                         # CPU (and CUDA when present)
    .venv/bin/python benchmarks/infer_speed.py --sizes 256 1080 --checkpoint runs/x
    .venv/bin/python benchmarks/infer_speed.py --json runs/infer_speed.json

Each (size, variant) runs in a fresh process, so its peak resident memory (VmHWM) is its
own; on CUDA the peak is torch.cuda.max_memory_allocated. Time: seconds per image of the
forward pass (`Translator` on a float tensor: padding, tiles, blend and crop included; no file
decoding or encoding), the median of `--repeats` after one warm-up at 256x256 (a 12 MP image
runs once: a minute on one CPU thread). Ratios are to "whole fp32 NCHW" at the same size on
the same device. Each variant's output is compared with the whole-image fp32 output: the
difference in 8-bit levels (1 level = 2/255 on [-1, 1]), mean and 99.9th percentile.

Without `--checkpoint` the network is an untrained unet_256 (pix2pix initialisation): fine for
speed and memory, while the differences of tiles and bf16 are only indicative; give a trained
checkpoint to measure those. The load average is printed beside the figures: on a shared
machine the times move with it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SIZES = {256: (256, 256), 1080: (1920, 1080), 12: (4000, 3000)}
SIZE_NAMES = {256: "256x256", 1080: "1080p", 12: "12 MP"}
# name -> Translator options (tile None = plan from free memory; channels_last None = the default).
VARIANTS = {
    "whole fp32 NCHW": {"tile": 0, "precision": "fp32", "channels_last": False},
    "whole fp32": {"tile": 0, "precision": "fp32"},
    "tiled 1024 fp32": {"tile": 1024, "overlap": 256, "precision": "fp32"},
    "tiled 512 fp32": {"tile": 512, "overlap": 256, "precision": "fp32"},
    "whole bf16": {"tile": 0, "precision": "bf16"},
    "tiled 1024 bf16": {"tile": 1024, "overlap": 256, "precision": "bf16"},
    "whole fp16": {"tile": 0, "precision": "fp16"},  # CUDA only
    "batch 8 fp32": {"tile": 0, "precision": "fp32", "batch": 8},  # 256x256 only: s/image in a batch
    "batch 8 bf16": {"tile": 0, "precision": "bf16", "batch": 8},
    "onnxruntime fp32": {"onnx": True},  # CPU; whole image
}
BASELINE = "whole fp32 NCHW"


def build_translator(options: dict, *, checkpoint: str | None, device: str):
    import torch

    from mosaicgan.infer.translate.translator import Translator
    from mosaicgan.nets.layers import init_weights
    from mosaicgan.nets.registry import get_net

    kwargs = {k: v for k, v in options.items() if k in ("tile", "overlap", "precision", "channels_last")}
    if checkpoint:
        return Translator.from_checkpoint(checkpoint, device=device, keep_dropout=False, **kwargs)
    torch.manual_seed(0)
    net = init_weights(get_net("unet_256"))
    return Translator.from_net(net, device=device, keep_dropout=False, **kwargs)


def image(size: int, batch: int = 1, photo: str | None = None):
    """A photo resized to the size, or a smooth test image (gradients and a few discs); the same
    in every process."""
    import torch

    w, h = SIZES[size]
    if photo:
        from PIL import Image

        from mosaicgan.data.images import pil_to_tensor, read_image

        x = pil_to_tensor(read_image(photo).convert("RGB").resize((w, h), Image.BICUBIC))[None]
        return x.expand(batch, -1, -1, -1).contiguous()
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, h), torch.linspace(-1, 1, w), indexing="ij")
    planes = [xx * 0.8, yy * 0.6, (xx * yy) * 0.9]
    for k, (cx, cy, r) in enumerate([(-0.3, 0.2, 0.3), (0.4, -0.4, 0.2), (0.1, 0.5, 0.15)]):
        planes[k] = torch.where((xx - cx) ** 2 + (yy - cy) ** 2 < r * r, -planes[k] + 0.3, planes[k])
    x = torch.stack(planes).clamp(-1, 1)[None]
    return x.expand(batch, -1, -1, -1).contiguous()


def child(spec: dict) -> dict:
    """One (size, variant) in this process: time, peak memory, and the output saved for the parent."""
    import torch

    torch.set_num_threads(spec["threads"])
    options, size, device = spec["options"], spec["size"], spec["device"]
    batch = options.get("batch", 1)
    x = image(size, batch, spec["photo"])
    if options.get("onnx"):
        import onnxruntime

        from mosaicgan.infer.translate.translator import pad_to_multiple

        so = onnxruntime.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = spec["threads"], 1
        sess = onnxruntime.InferenceSession(spec["onnx_path"], so, providers=["CPUExecutionProvider"])

        def run(t):
            padded, (top, left, h, w) = pad_to_multiple(t, 256)
            y = sess.run(None, {"image": padded.numpy()})[0]
            return torch.from_numpy(y[..., top : top + h, left : left + w])
    else:
        translator = build_translator(options, checkpoint=spec["checkpoint"], device=device)
        run = translator
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    run(image(256))  # warm-up: kernels, allocator, the memory probe of tile planning
    sync()
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    times = []
    for _ in range(spec["repeats"]):
        t0 = time.perf_counter()
        y = run(x)
        sync()
        times.append(time.perf_counter() - t0)
    np.save(spec["out"], y[:1].float().cpu().numpy())
    result = {"s_per_image": float(np.median(times)) / batch, "peak_rss_mib": peak_rss_mib()}
    if device.startswith("cuda"):
        result["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return result


def peak_rss_mib() -> float:
    """This process's peak resident memory. Linux keeps ru_maxrss across fork and exec, so a
    child would report its parent's peak: VmHWM (reset by exec) where there is /proc."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def export_onnx(checkpoint: str | None, folder: Path) -> str | None:
    """The benchmark's network as ONNX (the same weights as the torch variants)."""
    try:
        import onnxruntime  # noqa: F401
        import torch
    except ImportError:
        return None
    from mosaicgan.checkpoint import save_checkpoint
    from mosaicgan.infer.export_onnx import export_onnx as export

    if not checkpoint:
        translator = build_translator({"channels_last": False}, checkpoint=None, device="cpu")
        checkpoint = str(save_checkpoint(folder / "untrained.safetensors", kind="pix2pix",
                                         nets={"gen": translator.net}, config={}))
    path = folder / "gen.onnx"
    with torch.no_grad():
        export(checkpoint, out=path)
    return str(path)


def levels(diff: np.ndarray) -> tuple[float, float]:
    d = np.abs(diff) * 127.5
    return float(d.mean()), float(np.percentile(d, 99.9))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1080, 12], choices=list(SIZES))
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS), metavar="NAME")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    parser.add_argument("--repeats", type=int, default=0, help="timed runs (default: 5 at 256x256, 1 above)")
    parser.add_argument("--checkpoint", help="a pix2pix checkpoint (default: an untrained unet_256)")
    parser.add_argument("--photo", help="an image file resized to each size (default: a synthetic image)")
    parser.add_argument("--devices", nargs="+", default=None, help="default: cpu, and cuda when present")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return

    import torch

    devices = args.devices or (["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    work = Path(tempfile.mkdtemp(prefix="infer_speed_"))
    onnx_path = export_onnx(args.checkpoint, work) if "onnxruntime fp32" in args.variants else None
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, torch {torch.__version__}, "
          f"{args.threads} thread(s), {time.strftime('%Y-%m-%d')}, network: {args.checkpoint or 'untrained unet_256'}, "
          f"input: {args.photo or 'synthetic'}")
    if torch.cuda.is_available():
        print(f"# GPU: {torch.cuda.get_device_name(0)}")
    else:
        print("# no CUDA device: GPU figures missing")
    print("| device | size | variant | s/image | speed vs whole fp32 NCHW | peak RSS MiB | CUDA peak MiB | "
          "diff mean / p99.9 (8-bit levels) | load avg |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for device in devices:
        for size in args.sizes:
            base_time = reference = None
            for name in [BASELINE] + [v for v in args.variants if v != BASELINE]:
                options = VARIANTS[name]
                if ("batch" in options) != (size == 256) and "tile" in options and options["tile"] != 0:
                    continue  # tiles at 256x256 would be the whole image
                if "batch" in options and size != 256:
                    continue
                if options.get("onnx") and (device != "cpu" or onnx_path is None):
                    continue
                if options.get("precision") == "fp16" and device == "cpu":
                    continue
                out = work / f"{device}_{size}_{len(rows)}.npy"
                spec = {"options": options, "size": size, "device": device, "threads": args.threads,
                        "repeats": args.repeats or (5 if size == 256 else 1), "checkpoint": args.checkpoint,
                        "onnx_path": onnx_path, "out": str(out), "photo": args.photo}
                proc = subprocess.run([sys.executable, __file__, "--child", json.dumps(spec)], capture_output=True,
                                      text=True)
                if proc.returncode != 0:
                    print(f"| {device} | {SIZE_NAMES[size]} | {name} | failed: "
                          f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode} |")
                    continue
                result = json.loads(proc.stdout.strip().splitlines()[-1])
                y = np.load(out)
                if name == BASELINE:
                    base_time, reference = result["s_per_image"], y
                mean, p999 = levels(y - reference) if reference is not None else (float("nan"),) * 2
                row = {"device": device, "size": SIZE_NAMES[size], "variant": name, **result,
                       "speedup": base_time / result["s_per_image"] if base_time else None,
                       "diff_levels_mean": mean, "diff_levels_p999": p999, "load_avg": os.getloadavg()[0]}
                rows.append(row)
                cuda = f"{row['cuda_peak_mib']:.0f}" if "cuda_peak_mib" in row else "-"
                print(f"| {device} | {row['size']} | {name} | {row['s_per_image']:.3f} | "
                      f"{row['speedup']:.2f}x | {row['peak_rss_mib']:.0f} | {cuda} | {mean:.3f} / {p999:.2f} | "
                      f"{row['load_avg']:.1f} |", flush=True)
                out.unlink()
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
