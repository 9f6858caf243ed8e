"""Export a trained mosaic detector run as the shipped one: fp16 weights + the config that rebuilds it.

A maintainer tool; nothing in the package imports it. From the repository root:

    python scripts/export_detector.py runs/detector [--out src/mosaicgan/assets/mosaic_detector.safetensors]

Reads the run's latest checkpoint (or a checkpoint file), stores every weight as float16
(inference casts back to float32; BatchNorm's running statistics included) and records in
`extra` the training step, epoch, training seconds and source run. The run folder stays
resumable (`mosaicgan train mosaic_detector --resume RUN`).
"""

from __future__ import annotations

from export_weights import export_main
from mosaicgan.localize.mosaics.detector import KIND


def main() -> None:
    export_main(description=__doc__.split("\n\n")[0], kind=KIND, net="detector",
                out="src/mosaicgan/assets/mosaic_detector.safetensors", name="mosaicgan-mosaic-detector-v3")


if __name__ == "__main__":
    main()
