"""Export a trained srgan run (stage mse or gan) as a shipped upscaler: fp16 weights + the config.

A maintainer tool; nothing in the package imports it. From the repository root:

    python scripts/export_upscaler.py runs/srresnet_x4 [--out src/mosaicgan/assets/srresnet_x4.safetensors]

Keeps only the generator, stores its weights as float16 (inference casts back to float32) and
records in `extra` the step, epoch, training seconds, source run and a name. The run folder
stays resumable (`mosaicgan train srgan --resume RUN`).
"""

from __future__ import annotations

from export_weights import export_main


def main() -> None:
    export_main(description=__doc__.split("\n\n")[0], kind="srgan", net="gen",
                out="src/mosaicgan/assets/srresnet_x4.safetensors", name="mosaicgan-srresnet-x4-v1")


if __name__ == "__main__":
    main()
