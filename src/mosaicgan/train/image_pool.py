"""The history of generated images that CycleGAN's discriminators learn from (Shrivastava et al. 2017).

Showing D some older fakes, not only the latest generator's, keeps it from chasing G's last
move and so damps oscillation. Until the pool is full every image passes through and is
stored; after that each image is, with probability 1/2, swapped for a random stored one (the
stored one goes to D, the new one takes its place), else passed through.
"""

from __future__ import annotations

from typing import Any

import torch


class ImagePool:
    """`query(images)` takes (N, C, H, W) and returns N images for D, some from the past.

    Random draws come from `generator`, or from torch's global CPU generator when None: the
    training loop saves and restores that one, so a resumed run draws the same choices.
    `state_dict()` holds the stored images, so resume restores them too. `size=0` turns the
    pool off (images pass straight through, detached).
    """

    def __init__(self, size: int, *, generator: torch.Generator | None = None) -> None:
        if size < 0:
            raise ValueError(f"pool size must be >= 0, got {size}")
        self.size = size
        self.generator = generator
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        images = images.detach()  # what D learns from carries no graph: D's loss must not reach G
        if self.size == 0:
            return images
        out = []
        for image in images:
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif float(torch.rand((), generator=self.generator)) < 0.5:
                slot = int(torch.randint(0, self.size, (1,), generator=self.generator))
                old = self.images[slot].to(image.device)
                self.images[slot] = image.clone()
                out.append(old)
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        return {"size": self.size, "images": [img.cpu() for img in self.images]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["size"]) != self.size:
            raise ValueError(f"saved pool holds up to {state['size']} images, this one {self.size}")
        self.images = [img.clone() for img in state["images"]]
