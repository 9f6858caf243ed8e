"""Every list of named choices, in one place: the config, the registries, the pure functions
that check their arguments and argparse all import these tuples, so a choice added here is
offered (and validated) everywhere at once.

The models themselves are listed in `mosaicgan.models` (one table with what each one uses).
This module imports nothing, so anything may import it.
"""

from __future__ import annotations

# Adversarial objectives (losses/adversarial.py explains each); "wgan" clips the critic's weights
# (loss.clip_d) after each of its steps, as the original WGAN and DualGAN do.
GAN_MODES = ("vanilla", "lsgan", "hinge", "wgan-gp", "wgan")
# How the unpaired models measure a reconstruction (loss.cycle_distance): CycleGAN's L1, DiscoGAN's MSE.
CYCLE_DISTANCES = ("l1", "mse")

# Network building blocks (nets/layers.py).
NORMS = ("batch", "instance", "none")
INITS = ("normal", "xavier", "kaiming", "orthogonal")
UPSAMPLES = ("deconv", "resize")  # transposed convolutions | nearest x2 + 3x3 conv
NET_KINDS = ("generator", "discriminator", "classifier", "detector", "restorer", "segmenter", "upscaler", "two_way")

# The c-GAN + encoder method of Dong et al. (train/dong.py): its three training stages, in order.
DONG_STAGES = ("gan", "encoder", "joint")

# Training arithmetic (train/precision.py): bf16/fp16 autocast each step, weights stay float32;
# fp16 also scales the loss (a GradScaler per optimizer). "auto" (the default) is bf16 where the
# device runs it natively and fp32 elsewhere (device.default_precision), decided when a run
# starts and written to its config.toml as the one it chose, so a resume keeps it.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
# Inference arithmetic (infer/translate/tile_plan.py): autocast around the forward; fp16 on CUDA only.
# "auto": bf16 where the device runs it natively, else fp32 (device.default_precision), the default
# of translate, upscale and remove (their outputs stay within the tolerances in docs/performance.md).
INFER_PRECISIONS = ("auto", "fp32", "bf16", "fp16")

# Super-resolution (nets/srresnet.py, train/srgan.py): training stages, factors, upsampling tails.
SR_STAGES = ("mse", "gan")
SR_SCALES = (2, 4)
SR_UPSAMPLERS = ("subpixel", "espcn", "resize")
# `upscale` defaults (infer/upscale/upscaler.py explains the overlap), here so `mosaicgan --help` needs no torch.
UPSCALE_TILE = 512
UPSCALE_OVERLAP = 32

# Training data (data/paired.py, data/unpaired.py, data/preprocess.py).
LAYOUTS = ("auto", "aligned", "folders", "unaligned")
PAIRED_LAYOUTS = ("auto", "aligned", "folders")
DIRECTIONS = ("AtoB", "BtoA")
PREPROCESS = ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none")

# Mosaic styles (ops/mosaic.py): block mean, block median, one random pixel per block, Gaussian blur.
# Restorable, more or less: training data (make-pairs, the restorer's augmentation) draws from these.
MOSAIC_STYLES = ("average", "median", "random", "blur")
# How mosaics are made in the wild (ops/recipes.py has the table of tools behind each name).
MOSAIC_RECIPES = ("mean", "median", "nearest", "nearest-centre", "random-pixel", "bilinear", "bicubic",
                  "pil-bilinear", "pil-bicubic", "min", "max")
# What `add --style` covers a region with: the mosaics, or one of two covers that keep nothing of
# the region (an opaque fill; random colours, one per block), which recognition models cannot undo
# (docs/privacy.md says which style resists which attack).
COVER_STYLES = MOSAIC_STYLES + ("solid", "noise")
# Styles that draw random numbers (they need an explicit generator).
DRAWN_STYLES = ("random", "noise")

# How `remove` finds mosaics with no mask (infer/remove_core.mosaic_finder): the shipped network
# proposes regions and the classical grid reader confirms each (localize/mosaics/detector.py), or the
# classical block-grid detector alone (localize/mosaics/finder.py).
MOSAIC_DETECTORS = ("net", "grid")
DEFAULT_MOSAIC_DETECTOR = "net"  # better on every figure of benchmarks/mosaic_detect.py

# Where a region comes from (infer/add/regions.py). Detectors may find nothing in an image;
# make-pairs draws its regions itself, so it takes no mask file or boxes.
REGION_KINDS = ("mask", "boxes", "cam", "faces", "random")
DETECTED_REGIONS = ("cam", "faces")
PAIR_REGION_KINDS = ("random", "faces", "cam")
# The region drawn around each face (localize/faces/detect.py): an ellipse inscribed in the grown box, or the box.
FACE_SHAPES = ("ellipse", "box")
