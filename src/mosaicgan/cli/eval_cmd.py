"""`mosaicgan eval`: PSNR/SSIM of a checkpoint on paired data, beside the identity baseline; for a
super-resolution (srgan) checkpoint, on a folder of high-resolution images, beside bicubic."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from mosaicgan import choices
from mosaicgan.cli.common import add_device_flag, add_generator_run_flags, generator_run_options, plural


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
    add_device_flag(p)
    add_generator_run_flags(p)
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
    translator = Translator.from_checkpoint(ckpt_path, direction=args.direction,
                                            device=resolve_device(args.device or "auto"), keep_dropout=False,
                                            **generator_run_options(args))
    data_direction = args.direction
    spec = MODELS.get(meta["kind"])
    if spec is not None and len(spec.generators) == 1:
        # A one-way model (pix2pix) translates the way it was trained: read the pairs that way.
        data_direction = json.loads(meta["config"]).get("data", {}).get("direction", "AtoB")
    result = evaluate(translator, root=args.data, split=args.split, layout=args.layout,
                      direction=data_direction, max_items=args.max_items, masks=args.masks)
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
    print(f"wrote {out}")
    return 0


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
        raise UserError("--precision: super-resolution checkpoints are scored in fp32 (the figures the literature compares)")
    tile = options["tile"]
    tiles = {} if tile is None else {"tile": tile or 1 << 30}  # 0: whole images
    if options["overlap"] is not None:
        tiles["overlap"] = options["overlap"]
    upscaler = Upscaler.from_checkpoint(ckpt_path, device=resolve_device(args.device or "auto"), **tiles)
    result = evaluate_sr(upscaler, root=args.data)
    result["checkpoint"] = str(ckpt_path)
    print(f"{args.data}: {plural(result['images'], 'image')}, x{result['scale']}, {result['metric']}")
    print(f"{'':<24}{'PSNR (dB)':>10}{'SSIM':>8}{'grid (dB)':>11}")
    for name in ("model", "bicubic"):
        print(f"{name:<24}{result[name]['psnr']:>10.2f}{result[name]['ssim']:>8.4f}{result[name]['grid_db']:>11.2f}")
    print(f"{'original':<24}{'':>10}{'':>8}{result['original']['grid_db']:>11.2f}")
    print(f"(grid: energy that repeats every {result['scale']} pixels, dB; see metrics.periodic_energy_db)")
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")
    return 0
