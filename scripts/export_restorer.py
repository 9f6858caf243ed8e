"""Export a trained restorer run as the shipped default: fp16 weights + the config that rebuilds it.

A maintainer tool; nothing in the package imports it. From the repository root:

    python scripts/export_restorer.py runs/restorer [--out src/mosaicgan/assets/restorer.safetensors]

Reads the run's latest checkpoint (or a checkpoint file), stores every weight as float16
(about half the bytes; inference casts back to float32) and records in `extra` the training
step, epoch, training seconds, source run and the name `remove` writes into provenance
metadata. The run folder itself stays resumable (`mosaicgan train restorer --resume RUN`).
"""

from __future__ import annotations

from export_weights import export_main


def main() -> None:
    export_main(description=__doc__.split("\n\n")[0], kind="restorer", net="restorer",
                out="src/mosaicgan/assets/restorer.safetensors", name="mosaicgan-restorer-lattice-v3")


if __name__ == "__main__":
    main()
