"""Training speed: eager fp32 against each speed lever and all of them together, as ratios
measured in one run, for pix2pix (unet_256 + 70x70 PatchGAN) and CycleGAN (two resnet_9blocks +
two PatchGANs) at 256x256: iterations/s, images/s, achieved TFLOP/s, peak memory, compile time,
and how far each lever's loss curve strays from the fp32 one.

Random images stand in for data (B = the colour-inverted A, so the L1 term has something to
learn), so only the model step is timed: forward, backward and Adam for D and G, as
`mosaicgan train` runs it (train/levers.py, train/precision.py). Variants are interleaved
round by round, so a machine shared with other jobs slows each of them alike; each figure is
the median over rounds. FLOPs are counted once per case with torch.utils.flop_counter (the
same arithmetic for every variant). Peak memory: on CUDA the allocator's peak; on the CPU the
peak resident set of a fresh process that builds the variant and runs two steps (torch itself
included; not measured for compiled variants).

`--reference DIR` also times the reference implementation's networks
(junyanz/pytorch-CycleGAN-and-pix2pix: DIR/models/networks.py, from a checkout you have) with
its update order (pix2pix / CycleGAN `optimize_parameters`), in the same rounds.

    .venv/bin/python benchmarks/train_speed.py [--rounds 3] [--iters 1] [--reference DIR]
        [--cases pix2pix:1 pix2pix:4 cyclegan:1] [--variants ...] [--skip-compile] [--curve-steps 12]
    .venv/bin/python benchmarks/train_speed.py --allocator [--reference DIR] [--cases pix2pix:1] [--iters 3]

`--allocator` measures the one process-wide lever, `keep_freed_memory` (train/levers.py, on by
default for CPU training): each variant with and without it in fresh processes, alternated.

`--cli` times whole training commands with their defaults instead (`mosaicgan train`, and the
reference's train.py with --reference), fresh processes, alternated: see benchmarks/train_cli.py.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from mosaicgan.config import default_config, with_values
from mosaicgan.nets import init_weights
from mosaicgan.nets.gemm_convs import use_gemm_for_small_maps
from mosaicgan.train.branches import plan_branches
from mosaicgan.train.cyclegan import CycleGANTask
from mosaicgan.train.image_pool import ImagePool
from mosaicgan.train.levers import compile_nets, keep_freed_memory, to_device
from mosaicgan.train.pix2pix import Pix2PixTask
from mosaicgan.train.precision import Precision

TASKS = {"pix2pix": Pix2PixTask, "cyclegan": CycleGANTask}
REFERENCE = "reference (fp32)"
CURVE_TOLERANCE = 0.05  # stated bound on a lever's L1 loss curve, relative to fp32's (see curve_deviation)


@dataclass(frozen=True)
class Levers:
    precision: str = "fp32"
    channels_last: bool = False
    fused_adam: bool = False
    small_map_gemm: bool = False
    branches: bool = False
    compile: bool = False
    compile_mode: str = "default"  # "reduce-overhead": torch.compile with CUDA graphs (CUDA only)


def variants(device: torch.device, *, skip_compile: bool) -> dict[str, Levers]:
    eager = Levers()
    out = {"eager fp32": eager, "bf16": replace(eager, precision="bf16"),
           "channels_last": replace(eager, channels_last=True), "fused adam": replace(eager, fused_adam=True)}
    if device.type == "cuda":
        out["fp16"] = replace(eager, precision="fp16")
    out["bf16 + fused"] = Levers(precision="bf16", fused_adam=True)
    best = Levers(precision="bf16", channels_last=True, fused_adam=True)
    if device.type == "cpu":  # the matrix-product path is CPU-only (nets/gemm_convs.py)
        out["small-map gemm"] = replace(eager, small_map_gemm=True)
        # CycleGAN's two cycles and two Ds side by side (train/branches.py; pix2pix has none).
        out["branches"] = replace(eager, branches=True)
        # What `--precision bf16` trains with by default on the CPU (fused Adam, the small-map
        # path and branches on; channels_last off).
        out["bf16 + fused + gemm"] = Levers(precision="bf16", fused_adam=True, small_map_gemm=True, branches=True)
        best = replace(best, small_map_gemm=True, branches=True)
    out["all but compile"] = best
    if not skip_compile:
        out["compile"] = replace(eager, compile=True)
        out["all"] = replace(best, compile=True)
        if device.type == "cuda":
            # CUDA graphs: each network's forward and backward replayed as one graph launch,
            # for small batches whose kernels are too short to hide the launches. Measured here
            # only; `mosaicgan train` does not offer it (not yet run on a GPU by this project).
            out["CUDA graphs"] = replace(best, compile=True, compile_mode="reduce-overhead")
    return out


def make_batches(*, model: str, batch: int, size: int, device: torch.device, count: int = 4) -> list[dict]:
    """Smooth random images A and B = -A (a mapping the generator can learn), fixed by seed."""
    gen = torch.Generator().manual_seed(1234)
    out = []
    for _ in range(count):
        a = F.interpolate(torch.rand(batch, 3, size // 16, size // 16, generator=gen) * 2 - 1, size=(size, size),
                          mode="bilinear", align_corners=False)
        b = -a if model == "pix2pix" else torch.rand(batch, 3, size, size, generator=gen) * 2 - 1
        out.append({"a": a.to(device), "b": b.to(device)})
    return out


class Runner:
    """One model with one set of levers, stepping through fixed batches."""

    def __init__(self, *, model: str, batch: int, size: int, device: torch.device, levers: Levers) -> None:
        config = with_values(default_config(model), {"data.root": "unused", "run.precision": levers.precision,
                                                     "run.channels_last": levers.channels_last})
        torch.manual_seed(0)
        self.task = TASKS[model](config)
        for net in self.task.nets().values():
            init_weights(net, scheme=config.nets.init, gain=config.nets.init_gain)
            net.to(device).train()
            if levers.channels_last:
                net.to(memory_format=torch.channels_last)
            if levers.small_map_gemm:
                use_gemm_for_small_maps(net)
        for opt in self.task.optimizers().values():
            opt.state.clear()
            for group in opt.param_groups:
                group["fused"], group["foreach"] = levers.fused_adam, None
        self.precision = Precision(levers.precision, device=device)
        self.task.precision = self.precision
        if hasattr(self.task, "branches"):
            self.task.branches = plan_branches(nets=self.task.nets().values(), device=device,
                                               precision=levers.precision, compiled=levers.compile,
                                               enabled=levers.branches)
        if levers.compile:
            compile_nets(self.task.nets(), mode=levers.compile_mode)
        self.device, self.levers = device, levers
        self.batches = [to_device(b, device, channels_last=levers.channels_last)
                        for b in make_batches(model=model, batch=batch, size=size, device=device)]
        self.i = 0

    def close(self) -> None:
        if hasattr(self.task, "branches"):
            self.task.branches.close()  # its worker threads

    def step(self) -> dict:
        batch = self.batches[self.i % len(self.batches)]
        self.i += 1
        if self.levers.compile_mode == "reduce-overhead":
            # A new iteration: the graphs may reuse the previous one's output memory (this
            # step's losses are then only valid until the next step).
            torch.compiler.cudagraph_mark_step_begin()
        with self.precision.autocast():
            return self.task.step(batch)


class ReferenceRunner:
    """The reference's networks (from its checkout) with its update order and losses."""

    def __init__(self, *, model: str, batch: int, size: int, device: torch.device, networks) -> None:
        torch.manual_seed(0)
        self.model, self.nw = model, networks
        adam = functools.partial(torch.optim.Adam, lr=2e-4, betas=(0.5, 0.999))
        if model == "pix2pix":
            norm = networks.get_norm_layer("batch")
            self.g = networks.UnetGenerator(3, 3, 8, 64, norm_layer=norm, use_dropout=True)
            self.d = networks.NLayerDiscriminator(6, 64, n_layers=3, norm_layer=norm)
            nets = [self.g, self.d]
            self.opt_g, self.opt_d = adam(self.g.parameters()), adam(self.d.parameters())
        else:
            norm = networks.get_norm_layer("instance")
            self.g_a = networks.ResnetGenerator(3, 3, 64, norm_layer=norm, use_dropout=False, n_blocks=9)
            self.g_b = networks.ResnetGenerator(3, 3, 64, norm_layer=norm, use_dropout=False, n_blocks=9)
            self.d_a = networks.NLayerDiscriminator(3, 64, n_layers=3, norm_layer=norm)
            self.d_b = networks.NLayerDiscriminator(3, 64, n_layers=3, norm_layer=norm)
            nets = [self.g_a, self.g_b, self.d_a, self.d_b]
            self.opt_g = adam([*self.g_a.parameters(), *self.g_b.parameters()])
            self.opt_d = adam([*self.d_a.parameters(), *self.d_b.parameters()])
            self.pool_a, self.pool_b = ImagePool(50), ImagePool(50)
        for net in nets:
            networks.init_weights(net, "normal", 0.02)
            net.to(device).train()
        self.batches = make_batches(model=model, batch=batch, size=size, device=device)
        self.i = 0

    @staticmethod
    def _requires_grad(nets, flag: bool) -> None:
        for net in nets:
            for p in net.parameters():
                p.requires_grad = flag

    @staticmethod
    def _gan(pred: torch.Tensor, real: bool, lsgan: bool) -> torch.Tensor:
        target = torch.full_like(pred, 1.0 if real else 0.0)
        return F.mse_loss(pred, target) if lsgan else F.binary_cross_entropy_with_logits(pred, target)

    def step(self) -> dict:
        batch = self.batches[self.i % len(self.batches)]
        self.i += 1
        a, b = batch["a"], batch["b"]
        if self.model == "pix2pix":  # Pix2PixModel.optimize_parameters
            fake_b = self.g(a)
            self._requires_grad([self.d], True)
            self.opt_d.zero_grad()
            loss_d = 0.5 * (self._gan(self.d(torch.cat((a, fake_b), 1).detach()), False, False)
                            + self._gan(self.d(torch.cat((a, b), 1)), True, False))
            loss_d.backward()
            self.opt_d.step()
            self._requires_grad([self.d], False)
            self.opt_g.zero_grad()
            loss_g = self._gan(self.d(torch.cat((a, fake_b), 1)), True, False) + 100.0 * F.l1_loss(fake_b, b)
            loss_g.backward()
            self.opt_g.step()
            return {}
        # CycleGANModel.optimize_parameters: lambda_A = lambda_B = 10, lambda_identity = 0.5, lsgan
        fake_b, fake_a = self.g_a(a), self.g_b(b)
        rec_a, rec_b = self.g_b(fake_b), self.g_a(fake_a)
        self._requires_grad([self.d_a, self.d_b], False)
        self.opt_g.zero_grad()
        loss_idt = (F.l1_loss(self.g_a(b), b) + F.l1_loss(self.g_b(a), a)) * 10 * 0.5
        loss_g = (self._gan(self.d_a(fake_b), True, True) + self._gan(self.d_b(fake_a), True, True)
                  + 10 * (F.l1_loss(rec_a, a) + F.l1_loss(rec_b, b)) + loss_idt)
        loss_g.backward()
        self.opt_g.step()
        self._requires_grad([self.d_a, self.d_b], True)
        self.opt_d.zero_grad()
        for disc, real, fake in ((self.d_a, b, self.pool_b.query(fake_b)), (self.d_b, a, self.pool_a.query(fake_a))):
            loss = 0.5 * (self._gan(disc(real), True, True) + self._gan(disc(fake.detach()), False, True))
            loss.backward()
        self.opt_d.step()
        return {}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def count_flops(runner) -> float:
    with FlopCounterMode(display=False) as counter:
        runner.step()
    return float(counter.get_total_flops())


def curve_deviation(model: str, batch: int, size: int, device: torch.device, levers: Levers, steps: int,
                    base: list[float] | None) -> tuple[list[float], float]:
    """The L1 loss curve of `steps` steps from the fixed seed, and its largest relative
    difference from the fp32 curve `base` (smoothed over 3 steps, since GAN losses jitter)."""
    runner = Runner(model=model, batch=batch, size=size, device=device, levers=levers)
    key = "loss_g_l1" if model == "pix2pix" else "loss_cycle_a"
    curve = [float(runner.step()[key]) for _ in range(steps)]
    if base is None:
        return curve, 0.0

    def smooth(c):
        return [sum(c[max(0, i - 2):i + 1]) / len(c[max(0, i - 2):i + 1]) for i in range(len(c))]

    dev = max(abs(x - y) / abs(y) for x, y in zip(smooth(curve), smooth(base), strict=True))
    return curve, dev


def child_peak_rss(model: str, batch: int, size: int, name: str, levers: Levers) -> float | None:
    """Peak resident memory (MB) of a fresh process that builds the variant and runs two steps."""
    cmd = [sys.executable, __file__, "--memory-child", model, str(batch), str(size), levers.precision,
           str(int(levers.channels_last)), str(int(levers.fused_adam)), str(int(levers.small_map_gemm)),
           str(int(levers.branches))]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=1800)
        return float(out.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError):
        print(f"  (peak memory of {name} not measured)", file=sys.stderr)
        return None


def memory_child(argv: list[str]) -> None:
    model, batch, size, precision, cl, fused, gemm, branches = argv
    runner = Runner(model=model, batch=int(batch), size=int(size), device=torch.device("cpu"),
                    levers=Levers(precision=precision, channels_last=bool(int(cl)), fused_adam=bool(int(fused)),
                                  small_map_gemm=bool(int(gemm)), branches=bool(int(branches))))
    runner.step()
    runner.step()
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the (larger) parent.
    status = Path("/proc/self/status").read_text().splitlines()
    print(next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024)  # kB


def run_case(*, model: str, batch: int, size: int, device: torch.device, args, networks) -> list[dict]:
    known = variants(device, skip_compile=args.skip_compile)
    table: dict[str, Levers | None] = {name: levers for name, levers in known.items()
                                       if not args.variants or name in args.variants or name == "eager fp32"}
    if model != "cyclegan":
        table.pop("branches", None)  # only CycleGAN's step has two independent halves
    if networks is not None:
        table[REFERENCE] = None

    def build(name: str):
        if table[name] is None:
            return ReferenceRunner(model=model, batch=batch, size=size, device=device, networks=networks)
        return Runner(model=model, batch=batch, size=size, device=device, levers=table[name])

    flops = count_flops(Runner(model=model, batch=batch, size=size, device=device, levers=Levers()))
    # One model in memory at a time (each holds G, D and Adam: ~1 GB for pix2pix), built afresh
    # each round with an untimed warm-up step; compiled ones are kept, so they compile once.
    kept: dict[str, object] = {}
    first_step: dict[str, float] = {}
    times: dict[str, list[float]] = {name: [] for name in table}
    peaks: dict[str, float] = {}
    iters = args.iters if device.type == "cpu" else max(args.iters, 20)
    for _ in range(args.rounds):
        for name, levers in table.items():
            if name in first_step and not times[name] and name not in kept:
                continue  # failed before
            runner = kept.get(name) or build(name)
            if name not in kept:
                sync(device)
                start = time.perf_counter()
                try:
                    for _ in range(max(1, args.warmup)):  # a compiled variant compiles here
                        runner.step()
                except Exception as err:  # noqa: BLE001  (a lever this machine cannot run: report, go on)
                    print(f"  {model} batch {batch} {name}: failed ({type(err).__name__}: "
                          f"{str(err).splitlines()[0][:200]})", file=sys.stderr)
                    first_step[name] = float("nan")
                    continue
                sync(device)
                first_step.setdefault(name, time.perf_counter() - start)
            if levers is not None and levers.compile:
                kept[name] = runner
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            sync(device)
            start = time.perf_counter()
            for _ in range(iters):
                runner.step()
            sync(device)
            times[name].append((time.perf_counter() - start) / iters)
            if device.type == "cuda":
                peaks[name] = max(peaks.get(name, 0.0), torch.cuda.max_memory_allocated(device) / 2**20)
            if name not in kept:
                getattr(runner, "close", lambda: None)()
            del runner
    kept.clear()
    if device.type == "cpu" and not args.skip_memory:
        for name, levers in table.items():
            if levers is not None and not levers.compile:
                peak = child_peak_rss(model, batch, size, name, levers)
                if peak is not None:
                    peaks[name] = peak
    # Loss curves: on the CPU only for --curve-cases (a CycleGAN step takes many seconds there),
    # and without compiled variants (each new runner would compile again).
    curves = args.curve_steps > 0 and (device.type == "cuda" or f"{model}:{batch}" in args.curve_cases)
    base_curve = curve_deviation(model, batch, size, device, Levers(), args.curve_steps, None)[0] if curves else []
    rows = []
    eager = statistics.median(times["eager fp32"])
    for name in times:
        if not times[name]:
            continue
        sec = statistics.median(times[name])
        levers = table.get(name)
        dev = None
        if curves and levers is not None and name != "eager fp32" and not (levers.compile and device.type == "cpu"):
            dev = curve_deviation(model, batch, size, device, levers, args.curve_steps, base_curve)[1]
        rows.append({"model": model, "batch": batch, "variant": name, "it_s": 1 / sec, "img_s": batch / sec,
                     "tflops": flops / sec / 1e12, "speedup": eager / sec, "peak_mb": peaks.get(name),
                     "first_step_s": first_step[name], "step_s": sec, "curve_dev": dev})
    return rows


def print_rows(rows: list[dict], device_name: str) -> None:
    print(f"\n{device_name}")
    print(f"{'model':<9}{'batch':>6}  {'variant':<20}{'it/s':>8}{'img/s':>8}{'TFLOP/s':>9}{'x eager':>9}"
          f"{'peak MB':>9}{'1st step s':>11}{'L1 dev':>8}")
    for r in rows:
        peak = f"{r['peak_mb']:.0f}" if r["peak_mb"] is not None else "-"
        dev = f"{100 * r['curve_dev']:.2f}%" if r["curve_dev"] is not None else "-"
        print(f"{r['model']:<9}{r['batch']:>6}  {r['variant']:<20}{r['it_s']:>8.3f}{r['img_s']:>8.2f}"
              f"{r['tflops']:>9.3f}{r['speedup']:>9.2f}{peak:>9}{r['first_step_s']:>11.1f}{dev:>8}", flush=True)


def step_child(argv: list[str]) -> None:
    """One variant in a fresh process, with glibc's default allocator or `keep_freed_memory`:
    prints seconds, CPU seconds and page faults per step (a process-wide lever cannot be
    interleaved in one process)."""
    model, batch, size, variant, keep, iters, warmup, reference = argv
    if keep == "1":
        keep_freed_memory()
    device = torch.device("cpu")
    if variant == REFERENCE:
        runner = ReferenceRunner(model=model, batch=int(batch), size=int(size), device=device,
                                 networks=load_reference(reference))
    else:
        runner = Runner(model=model, batch=int(batch), size=int(size), device=device,
                        levers=variants(device, skip_compile=True)[variant])
    for _ in range(int(warmup)):
        runner.step()
    before, start = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    for _ in range(int(iters)):
        runner.step()
    wall, after = time.perf_counter() - start, resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(json.dumps({"step_s": wall / int(iters), "cpu_s": cpu / int(iters),
                      "faults": (after.ru_minflt - before.ru_minflt) / int(iters)}))


def allocator_case(*, model: str, batch: int, size: int, args) -> None:
    """`keep_freed_memory` (the training loop's default on the CPU) against glibc's default, for
    eager fp32 and the bf16 variants, against the reference: each in fresh processes, the
    processes alternated round by round; the ratio is to the reference with glibc's default."""
    names = [n for n in ("eager fp32", "bf16 + fused", "bf16 + fused + gemm", "all but compile")
             if not args.variants or n in args.variants or n == "eager fp32"]
    # The baseline (the reference, else eager fp32) always runs as its users run it, with glibc's
    # default allocator; our variants with each of --allocators.
    base_key = (REFERENCE, "0") if args.reference else ("eager fp32", "0")
    keeps = [{"default": "0", "keep": "1"}[a] for a in args.allocators]
    pairs = [base_key] + [(n, k) for n in names for k in keeps if (n, k) != base_key]
    runs: dict[tuple[str, str], list[dict]] = {pair: [] for pair in pairs}
    for _ in range(args.rounds):
        for name, keep in pairs:
            cmd = [sys.executable, __file__, "--step-child", model, str(batch), str(size), name, keep,
                   str(args.iters), str(max(1, args.warmup)), args.reference or ""]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=3600)
            runs[(name, keep)].append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = statistics.median(r["step_s"] for r in runs[base_key])
    print(f"\n{model} batch {batch}: allocator (fresh processes, {args.rounds} rounds of {args.iters} steps; "
          f"x = speed against {base_key[0]} with glibc's default)")
    print(f"{'variant':<20}{'allocator':<12}{'s/step':>8}{'CPU s/step':>12}{'faults/step':>13}{'x':>7}")
    for (name, keep), rows in runs.items():
        step = statistics.median(r["step_s"] for r in rows)
        cpu = statistics.median(r["cpu_s"] for r in rows)
        faults = statistics.median(r["faults"] for r in rows)
        print(f"{name:<20}{'keep' if keep == '1' else 'default':<12}{step:>8.3f}{cpu:>12.3f}{faults:>13.0f}"
              f"{base / step:>7.2f}", flush=True)


def load_reference(path: str | None):
    if path is None:
        return None
    root = Path(path)
    if not (root / "models" / "networks.py").is_file():
        sys.exit(f"error: {root}: not a checkout of pytorch-CycleGAN-and-pix2pix (no models/networks.py)")
    sys.path.insert(0, str(root))
    return importlib.import_module("models.networks")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2:])
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--step-child":
        step_child(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=1, help="steps per round on the CPU (at least 20 on CUDA)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--cases", nargs="+", metavar="MODEL:BATCH",
                        help="default: pix2pix:1 pix2pix:4 cyclegan:1 on the CPU; pix2pix:1 pix2pix:16 cyclegan:1 "
                             "cyclegan:8 on CUDA")
    parser.add_argument("--devices", nargs="+", default=["cpu", "cuda"])
    parser.add_argument("--reference", metavar="DIR", help="a checkout of junyanz/pytorch-CycleGAN-and-pix2pix")
    parser.add_argument("--skip-compile", action="store_true", help="leave out the torch.compile variants")
    parser.add_argument("--variants", nargs="+", metavar="NAME",
                        help="only these variants (eager fp32 is always in): bf16, channels_last, 'fused adam', "
                             "fp16, 'small-map gemm', 'bf16 + fused', 'bf16 + fused + gemm', 'all but compile', "
                             "compile, all")
    parser.add_argument("--skip-memory", action="store_true", help="no peak-memory processes on the CPU")
    parser.add_argument("--curve-steps", type=int, default=12, help="steps of the loss-curve check (0: none)")
    parser.add_argument("--curve-cases", nargs="+", default=["pix2pix:1"], metavar="MODEL:BATCH",
                        help="cases whose loss curves are checked on the CPU (on CUDA: every case)")
    parser.add_argument("--allocator", action="store_true",
                        help="CPU: only the allocator lever (keep_freed_memory), variants in fresh processes")
    parser.add_argument("--allocators", nargs="+", choices=("default", "keep"), default=["default", "keep"],
                        help="with --allocator: which allocators our variants run with "
                             "(the reference: glibc's default)")
    parser.add_argument("--cli", action="store_true",
                        help="whole training commands with their defaults, fresh processes (benchmarks/train_cli.py)")
    parser.add_argument("--steps", type=int, default=8, help="with --cli: steps timed per process (after --warmup)")
    parser.add_argument("--threads", type=int, default=0, help="with --cli: OMP_NUM_THREADS of every run (0: default)")
    args = parser.parse_args()
    if args.cli:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import train_cli

        args.warmup = max(args.warmup, 3)
        train_cli.run(args)
        return

    networks = load_reference(args.reference)
    cpu_name = platform.processor() or platform.machine()
    try:
        cpu_name = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                        if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"{date.today()}  torch {torch.__version__}  CPU {cpu_name}, {torch.get_num_threads()} threads, "
          f"ATen CPU capability {torch.backends.cpu.get_cpu_capability()}")
    print(f"loss-curve tolerance: a lever's L1 curve ({args.curve_steps} steps, 3-step means) within "
          f"{100 * CURVE_TOLERANCE:.0f}% of fp32's")
    defaults = {"cpu": ["pix2pix:1", "pix2pix:4", "cyclegan:1"],
                "cuda": ["pix2pix:1", "pix2pix:16", "cyclegan:1", "cyclegan:8"]}
    if args.allocator:
        for case in args.cases or defaults["cpu"]:
            model, batch = case.split(":")
            allocator_case(model=model, batch=int(batch), size=args.size, args=args)
        return
    for dev_name in args.devices:
        if dev_name == "cuda" and not torch.cuda.is_available():
            print("\nCUDA: no GPU on this machine; the GPU figures are missing")
            continue
        device = torch.device(dev_name)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True
        name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU ({cpu_name})"
        rows = []
        for case in args.cases or defaults[device.type]:
            model, batch = case.split(":")
            rows += run_case(model=model, batch=int(batch), size=args.size, device=device, args=args,
                             networks=networks)
            print_rows([r for r in rows if r["model"] == model and r["batch"] == int(batch)], name)
            if device.type == "cuda" and any(r["variant"] == "CUDA graphs" for r in rows):
                # torch falls back to plain compiled code (with a warning in the log) where it
                # cannot graph a part: then the row measures less than its name says.
                from torch._dynamo.utils import counters
                print(f"CUDA graphs: {counters['inductor'].get('cudagraph_skips', 0)} parts not graphed "
                      "(reasons in the warnings above)")
        bad = [r for r in rows if r["curve_dev"] is not None and r["curve_dev"] > CURVE_TOLERANCE]
        for r in bad:
            print(f"warning: {r['model']} batch {r['batch']} {r['variant']}: loss curve {100 * r['curve_dev']:.1f}% "
                  f"from fp32, beyond the {100 * CURVE_TOLERANCE:.0f}% tolerance")


if __name__ == "__main__":
    main()
