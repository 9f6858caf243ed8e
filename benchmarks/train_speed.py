"""Training speed of pix2pix (unet_256 + 70x70 PatchGAN, 256x256): iterations per second.

The baseline later speed work must beat. Random tensors stand in for data so only the model
step is timed (forward, backward and Adam for both D and G). Runs on CPU, and on CUDA when
present; prints device, torch version and thread count.

    .venv/bin/python benchmarks/train_speed.py [--iters 5] [--batch-sizes 1 4] [--size 256]
"""

from __future__ import annotations

import argparse
import time

import torch

from mosaicgan.config import default_config, with_values
from mosaicgan.nets import init_weights
from mosaicgan.train.pix2pix import Pix2PixTask


def iterations_per_second(*, device: torch.device, batch_size: int, size: int, iters: int, warmup: int) -> float:
    config = with_values(default_config("pix2pix"), {"data.root": "unused"})
    torch.manual_seed(0)
    task = Pix2PixTask(config)
    for net in task.nets().values():
        init_weights(net)
        net.to(device).train()
    batch = {"a": torch.rand(batch_size, 3, size, size, device=device) * 2 - 1,
             "b": torch.rand(batch_size, 3, size, size, device=device) * 2 - 1}
    for _ in range(warmup):
        task.step(batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(iters):
        task.step(batch)  # .item() on the losses synchronises every step, as in training
    if device.type == "cuda":
        torch.cuda.synchronize()
    return iters / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()

    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    print(f"torch {torch.__version__}, CPU threads {torch.get_num_threads()}")
    print(f"{'device':<28}{'batch':>6}{'it/s':>10}{'images/s':>10}")
    for device in devices:
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
        iters = args.iters if device.type == "cpu" else max(args.iters, 50)
        for bs in args.batch_sizes:
            ips = iterations_per_second(device=device, batch_size=bs, size=args.size, iters=iters, warmup=args.warmup)
            print(f"{name:<28}{bs:>6}{ips:>10.3f}{ips * bs:>10.2f}", flush=True)


if __name__ == "__main__":
    main()
