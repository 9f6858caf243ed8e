"""`mosaicgan eval`: PSNR/SSIM of a checkpoint on paired data, beside the identity baseline; for a
super-resolution (srgan) checkpoint, on a folder of high-resolution images, beside bicubic."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mosaicgan import choices
from mosaicgan.cli.common import add_device_flag, add_generator_run_flags, generator_run_options, plural
from mosaicgan.errors import printable


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="PSNR and SSIM of a checkpoint on paired test data",
                       description="Translate the inputs of a paired split at full size and score them against "
                                   "the targets (PSNR, SSIM), beside the identity baseline (input as output). For a "
                                   "super-resolution checkpoint (`train srgan`), --data is a folder of high-resolution "
                                   "images (e.g. Set5): each is downscaled (bicubic, antialiased), upscaled by the "
                                   "model and by bicubic, and scored on the Y channel with `scale` border pixels "
                                   "cropped, as the literature does.")
    p.add_argument("--checkpoint", required=True, metavar="CKPT", help="a .safetensors checkpoint or a run folder")
    p.add_argument("--data", required=True, metavar="DIR",
                   help="paired data (aligned A|B files, or A/ and B/ folders); srgan: a folder of HR images")
    p.add_argument("--split", default="test")
    p.add_argument("--layout", default="auto", choices=choices.PAIRED_LAYOUTS)
    p.add_argument("--direction", choices=choices.DIRECTIONS, default="AtoB",
                   help="CycleGAN: which generator (pix2pix uses the direction it was trained in)")
    p.add_argument("--max-items", type=int, default=0, help="score only the first N pairs")
    p.add_argument("--masks", type=Path, metavar="DIR",
                   help="also score the output blended into the input through these masks (e.g. make-pairs' "
                        "OUT/masks): only the restored region is then compared with the identity baseline")
    p.add_argument("--json", type=Path, metavar="FILE",
                   help="where to write the results (default: eval_SPLIT.json beside the checkpoint)")
    p.add_argument("--gallery", type=Path, metavar="FILE.html",
                   help="also write a web page: input | output | target of every pair with its PSNR and SSIM "
                        "(srgan: bicubic | model | target), pictures embedded, opens with no server")
    add_device_flag(p)
    add_generator_run_flags(p, precision="fp32")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mosaicgan.atomic import atomic_path, check_writable_file
    from mosaicgan.checkpoint import find_checkpoint, read_metadata
    from mosaicgan.device import resolve_device
    from mosaicgan.errors import UserError
    from mosaicgan.infer.translate.evaluate import evaluate
    from mosaicgan.infer.translate.translator import Translator
    from mosaicgan.models import MODELS

    if args.max_items < 0:
        raise UserError(f"--max-items must be at least 0 (0: all pairs), got {args.max_items}")
    ckpt_path = find_checkpoint(args.checkpoint)
    meta = read_metadata(ckpt_path)
    if meta["kind"] == "srgan":
        return run_sr(args, ckpt_path)
    out = args.json or ckpt_path.parent / f"eval_{args.split}.json"
    # Checked before the (long) evaluation: a result printed but not saved would be lost.
    check_writable_file(out, flag="--json")
    gallery = start_gallery(args, f"eval {ckpt_path.name} on {Path(args.data).name}/{args.split}")
    translator = Translator.from_checkpoint(ckpt_path, direction=args.direction,
                                            device=resolve_device(args.device or "auto"), keep_dropout=False,
                                            **generator_run_options(args))
    data_direction = args.direction
    spec = MODELS.get(meta["kind"])
    if spec is not None and len(spec.generators) == 1:
        # A one-way model (pix2pix) translates the way it was trained: read the pairs that way.
        data_direction = json.loads(meta["config"]).get("data", {}).get("direction", "AtoB")
    result = evaluate(translator, root=args.data, split=args.split, layout=args.layout,
                      direction=data_direction, max_items=args.max_items, masks=args.masks,
                      on_pair=None if gallery is None else lambda name, pictures, scores: gallery.add(
                          name, list(pictures.items()),
                          figures={"input": figures(scores["identity"]), "output": figures(scores["model"])}))
    result["checkpoint"] = str(ckpt_path)
    result["direction"] = data_direction
    print(f"{args.split}: {plural(result['images'], 'pair')}")
    print(f"{'':<24}{'PSNR (dB)':>10}{'SSIM':>8}")
    for name, label in (("model", "model"), ("model_in_mask", "model, blended in mask"),
                        ("identity", "identity (input)")):
        if name not in result:
            continue
        print(f"{label:<24}{result[name]['psnr']:>10.2f}{result[name]['ssim']:>8.4f}")
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {printable(out)}")
    finish_gallery(gallery, args, [f"{name}: PSNR {result[name]['psnr']:.2f} dB, SSIM {result[name]['ssim']:.4f}"
                                   for name in ("model", "model_in_mask", "identity") if name in result])
    return 0


def figures(score: tuple[float, float]) -> dict[str, float]:
    return {"PSNR": score[0], "SSIM": score[1]}


def start_gallery(args: argparse.Namespace, title: str):
    """The --gallery page to fill (its path checked before the evaluation), or None."""
    if args.gallery is None:
        return None
    from mosaicgan.infer.translate.gallery import Gallery, check_gallery_path

    check_gallery_path(args.gallery)
    return Gallery(title)


def finish_gallery(gallery, args: argparse.Namespace, summary: list[str]) -> None:
    if gallery is not None:
        print(f"wrote {printable(gallery.write(args.gallery, summary=summary))}")


def run_sr(args: argparse.Namespace, ckpt_path: Path) -> int:
    from mosaicgan.atomic import atomic_path, check_writable_file
    from mosaicgan.device import resolve_device
    from mosaicgan.errors import UserError
    from mosaicgan.infer.upscale.evaluate import evaluate_sr
    from mosaicgan.infer.upscale.upscaler import Upscaler

    if args.masks is not None:
        raise UserError("--masks scores restorers; a super-resolution checkpoint is scored on whole images")
    out = args.json or ckpt_path.parent / f"eval_sr_{Path(args.data).name}.json"
    check_writable_file(out, flag="--json")
    options = generator_run_options(args)
    if options["precision"] != "fp32":
        raise UserError("--precision: super-resolution checkpoints are scored in fp32 "
                        "(the figures the literature compares)")
    tile = options["tile"]
    tiles = {} if tile is None else {"tile": tile or 1 << 30}  # 0: whole images
    if options["overlap"] is not None:
        tiles["overlap"] = options["overlap"]
    gallery = start_gallery(args, f"eval {ckpt_path.name} on {Path(args.data).name}")
    upscaler = Upscaler.from_checkpoint(ckpt_path, device=resolve_device(args.device or "auto"), **tiles)
    result = evaluate_sr(upscaler, root=args.data,
                         on_image=None if gallery is None else lambda name, pictures, scores: gallery.add(
                             name, list(pictures.items()),
                             figures={"bicubic": figures(scores["bicubic"]), "model": figures(scores["model"])}))
    result["checkpoint"] = str(ckpt_path)
    print(f"{printable(args.data)}: {plural(result['images'], 'image')}, x{result['scale']}, {result['metric']}")
    print(f"{'':<24}{'PSNR (dB)':>10}{'SSIM':>8}{'grid (dB)':>11}")
    for name in ("model", "bicubic"):
        print(f"{name:<24}{result[name]['psnr']:>10.2f}{result[name]['ssim']:>8.4f}{result[name]['grid_db']:>11.2f}")
    print(f"{'original':<24}{'':>10}{'':>8}{result['original']['grid_db']:>11.2f}")
    print(f"(grid: energy that repeats every {result['scale']} pixels, dB; see metrics.periodic_energy_db)")
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {printable(out)}")
    finish_gallery(gallery, args, [f"x{result['scale']}, {result['metric']}"] + [
        f"{name}: PSNR {result[name]['psnr']:.2f} dB, SSIM {result[name]['ssim']:.4f}"
        for name in ("model", "bicubic")])
    return 0
