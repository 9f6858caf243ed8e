"""A small GAN on 2-D points: watch it learn a ring of eight Gaussians and a spiral.

Generator and discriminator are small MLPs trained with the non-saturating loss and Adam,
in seconds on a CPU. The "balanced" setting reaches all eight modes of the ring; the two
collapse settings show the failure GANs are known for: a discriminator updated five times per
generator update (too strong: each G step chases D's current favourite spot), and a generator
without noise (a constant input can only ever give one point).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw

from mosaicgan.examples import plot
from mosaicgan.examples.registry import register_example
from mosaicgan.examples.results import write_outputs
from mosaicgan.examples.toy_data_2d import (
    MIN_SHARE,
    RING_MODES,
    RING_STD,
    SPIRAL_NOISE,
    curve_coverage,
    mode_coverage,
    ring_centres,
    sample_ring,
    sample_spiral,
    spiral_reference,
)
from mosaicgan.examples.toy_nets import discriminator_loss, generator_loss, mlp, one_thread


@dataclass(frozen=True)
class GanSetting:
    """Everything that differs between a GAN that covers the modes and one that collapses."""

    noise_dim: int = 4  # 0 = no noise: G gets a constant input
    hidden: int = 64
    depth: int = 3
    d_steps: int = 1  # discriminator updates per generator update
    lr_g: float = 2e-3
    lr_d: float = 2e-3
    loss: str = "non-saturating"  # or "saturating": the minimax form, min log(1 - D(G(z)))
    r1: float = 0.0  # weight of the R1 penalty on D's gradient at real points (0 = off)
    decay_from: float = 0.5  # learning rates fall linearly to 0 from this fraction of the run


SETTINGS = {
    # R1 keeps D smooth around the data, so G gets useful gradients towards every mode.
    "balanced": GanSetting(r1=0.5),
    "strong-d": GanSetting(d_steps=5),
    "no-noise": GanSetting(noise_dim=0, r1=0.5),
}


def train_toy_gan(
    *,
    sample_real: Callable[[int, torch.Generator], torch.Tensor],
    setting: GanSetting,
    steps: int,
    batch: int = 256,
    seed: int = 0,
    snapshot_steps: tuple[int, ...] = (),
    n_eval: int = 2000,
) -> dict:
    """Train G and D for `steps` generator updates; return generated points at snapshots.

    `sample_real(n, generator)` draws n real points (N, 2). `snapshot_steps` (0 = before
    training) each record `n_eval` points from one fixed noise batch, so snapshots differ only
    by training. Torch's global RNG is left untouched: a local generator draws the data and
    noise, and the weights are initialised inside `fork_rng`.
    """
    with one_thread():
        return _train(sample_real=sample_real, setting=setting, steps=steps, batch=batch, seed=seed,
                      snapshot_steps=snapshot_steps, n_eval=n_eval)


def _train(*, sample_real, setting: GanSetting, steps: int, batch: int, seed: int,
           snapshot_steps: tuple[int, ...], n_eval: int) -> dict:
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        g_net = mlp(in_dim=max(setting.noise_dim, 1), hidden=setting.hidden, out_dim=2, depth=setting.depth)
        d_net = mlp(in_dim=2, hidden=setting.hidden, out_dim=1, depth=setting.depth)
    opt_g = torch.optim.Adam(g_net.parameters(), lr=setting.lr_g, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d_net.parameters(), lr=setting.lr_d, betas=(0.5, 0.999))
    decay_start = int(setting.decay_from * steps)

    def lr_factor(step: int) -> float:
        # GAN training circles rather than settles; a falling step size lets it come to rest.
        return 1.0 if step < decay_start else (steps - step) / max(1, steps - decay_start)

    def noise(n: int) -> torch.Tensor:
        if setting.noise_dim == 0:
            return torch.zeros(n, 1)
        return torch.randn(n, setting.noise_dim, generator=gen)

    eval_noise = noise(n_eval)
    snapshots: dict[int, np.ndarray] = {}
    loss_d_hist, loss_g_hist = [], []
    for step in range(steps + 1):
        if step in snapshot_steps:
            with torch.no_grad():
                snapshots[step] = g_net(eval_noise).numpy()
        if step == steps:
            break
        for opt, base in ((opt_g, setting.lr_g), (opt_d, setting.lr_d)):
            for group in opt.param_groups:
                group["lr"] = base * lr_factor(step)

        # D first, on a detached fake batch so that D's loss does not reach G.
        for _ in range(setting.d_steps):
            real = sample_real(batch, gen).requires_grad_(setting.r1 > 0)
            with torch.no_grad():
                fake = g_net(noise(batch))
            real_logits = d_net(real)
            loss_d = discriminator_loss(real_logits, d_net(fake))
            if setting.r1 > 0:
                (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
                loss_d = loss_d + 0.5 * setting.r1 * grad.pow(2).sum(dim=1).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

        loss_g = generator_loss(d_net(g_net(noise(batch))), loss=setting.loss)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        loss_d_hist.append(loss_d.item())
        loss_g_hist.append(loss_g.item())
    return {"snapshots": snapshots, "loss_d": np.array(loss_d_hist), "loss_g": np.array(loss_g_hist),
            "setting": asdict(setting)}


def snapshot_schedule(steps: int) -> tuple[int, ...]:
    """Before training, then at 1/6, 1/3, 2/3 of the run and at its end."""
    return tuple(sorted({0, steps // 6, steps // 3, 2 * steps // 3, steps}))


def score(dataset: str, points: np.ndarray) -> dict:
    """Modes (ring) or curve pieces (spiral) covered, and the high-quality fraction."""
    if dataset == "ring":
        return mode_coverage(points, ring_centres(), std=RING_STD)
    return curve_coverage(points, spiral_reference(), tolerance=3 * SPIRAL_NOISE)


DATASETS = {
    "ring": lambda n, g: sample_ring(n, generator=g),
    "spiral": lambda n, g: sample_spiral(n, generator=g),
}
# (dataset, setting) rows of the figure, in order.
RUNS = (("ring", "balanced"), ("ring", "strong-d"), ("ring", "no-noise"), ("spiral", "balanced"))


@register_example("toy-gan-2d", "a small GAN on 8 Gaussians and a spiral; modes covered vs mode collapse")
def run(*, out_dir: Path, seed: int = 0, steps: int = 1500, batch: int = 256, n_eval: int = 2000,
        runs: tuple[tuple[str, str], ...] = RUNS) -> dict[str, Any]:
    schedule = snapshot_schedule(steps)
    real = {name: sampler(n_eval, torch.Generator().manual_seed(seed + 1)).numpy()
            for name, sampler in DATASETS.items()}
    rows, results = [], {}
    for dataset, setting_name in runs:
        started = time.perf_counter()
        trained = train_toy_gan(sample_real=DATASETS[dataset], setting=SETTINGS[setting_name], steps=steps,
                                batch=batch, seed=seed, snapshot_steps=schedule, n_eval=n_eval)
        seconds = time.perf_counter() - started
        scores = {step: score(dataset, pts) for step, pts in trained["snapshots"].items()}
        key = f"{dataset}/{setting_name}"
        results[key] = {"setting": trained["setting"], "seconds": seconds, "scores": scores,
                        # A few hundred points per snapshot redraw the picture; all 2000 bloat the file.
                        "points": {step: np.round(pts[:300], 3)
                                   for step, pts in trained["snapshots"].items()}}
        rows.append(_figure_row(dataset, setting_name, real[dataset], trained["snapshots"], scores))

    image = plot.stack([_figure_title(), *rows])
    headline = {}
    for key, res in results.items():
        final = res["scores"][steps]
        ring = key.startswith("ring")
        headline[key] = {"covered": final["modes_covered" if ring else "segments_covered"],
                         "of": RING_MODES if ring else len(final["per_segment"]),
                         "high_quality": final["high_quality_fraction"], "seconds": round(res["seconds"], 1)}
    return write_outputs(out_dir=out_dir, name="toy-gan-2d", image=image, seed=seed,
                         options={"steps": steps, "batch": batch, "n_eval": n_eval,
                                  "runs": [list(r) for r in runs]},
                         headline=headline, figures=results)


def _figure_title() -> Image.Image:
    img = Image.new("RGB", (1400, 64), plot.WHITE)
    draw = ImageDraw.Draw(img)
    draw.text((12, 8), "A small GAN on 2-D data: grey = real points, blue = generated",
              fill=plot.BLACK, font=plot.font(17))
    draw.text((12, 34), "'good' = within 3 std of a mode (ring) or 3 noise std of the curve (spiral); "
                        f"a mode or curve piece is covered when it holds {MIN_SHARE:.0%} of its fair share "
                        "of the points as good ones. R1 = gradient penalty on D at real points.",
              fill=plot.BLACK, font=plot.font(12))
    return img


def _figure_row(dataset: str, setting_name: str, real: np.ndarray, snapshots: dict[int, np.ndarray],
                scores: dict[int, dict]) -> Image.Image:
    lim = (-2.6, 2.6)
    panels: list = []
    for step, points in snapshots.items():
        s = scores[step]
        if dataset == "ring":
            what = f"{s['modes_covered']}/{len(s['per_mode'])} modes"
        else:
            what = f"{s['segments_covered']}/{len(s['per_segment'])} pieces"
        ax = plot.Axes(xlim=lim, ylim=lim, width=230, height=236, title=f"step {step}: {what}",
                       margins=(34, 30, 8, 24))
        ax.scatter(real[:, 0], real[:, 1], color=(200, 200, 200), radius=1.2)
        ax.scatter(points[:, 0], points[:, 1], color=plot.BLUE, radius=1.2)
        ax.note(f"good {s['high_quality_fraction']:.0%}")
        panels.append(ax)
    last = max(scores)
    final = scores[last]
    counts = np.array(final["per_mode"] if dataset == "ring" else final["per_segment"])
    threshold = MIN_SHARE * len(snapshots[last]) / len(counts)
    unit = "mode" if dataset == "ring" else "piece"
    bars = plot.Axes(xlim=(-0.5, len(counts) - 0.5), ylim=(0, 1.15 * max(counts.max(), threshold, 1)),
                     width=230, height=236, title=f"good points per {unit}",
                     xticks=range(0, len(counts), 1 if len(counts) <= 8 else 3), margins=(44, 30, 8, 24))
    bars.bars(np.arange(len(counts) + 1) - 0.5, counts, color=plot.BLUE, gap=0.25)
    bars.hline(threshold, color=plot.VERMILION, width=2)
    bars.note("line = counts as covered", corner="top-right")
    panels.append(bars)
    setting = SETTINGS[setting_name]
    label = _row_label(f"{dataset}\n{setting_name}", setting)
    return plot.side_by_side([label, *panels], gap=4)


def _row_label(title: str, setting: GanSetting) -> Image.Image:
    lines = title.split("\n") + [
        f"noise dim {setting.noise_dim}",
        f"D steps/G step {setting.d_steps}",
        f"R1 weight {setting.r1:g}",
    ]
    img = Image.new("RGB", (130, 236), plot.WHITE)
    draw = ImageDraw.Draw(img)
    y = 70
    for i, line in enumerate(lines):
        draw.text((6, y), line, fill=plot.BLACK, font=plot.font(15 if i < 2 else 12))
        y += 20 if i < 2 else 17
    return img
