"""VGG19's convolutional part in torchvision's layout (`features.N.weight` / `.bias`), cut at a
ReLU, for the content loss of SRGAN. Nothing is downloaded: the weights come from a file the
user already has (train.sr_features loads it).

The paper's VGG22 is the output of relu2_2, VGG54 that of relu5_4 (the 4th convolution's ReLU
of block 5), the feature map they found to give the sharpest textures.
"""

from __future__ import annotations

from torch import nn

# torchvision's "E" configuration: channels per convolution, "M" a 2x2 max pool.
CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
# Layer name -> number of torchvision `features` modules up to and including that ReLU.
LAYERS = {"relu2_2": 9, "relu5_4": 36}


def vgg19_features(*, layer: str = "relu5_4") -> nn.Sequential:
    """torchvision's `vgg19().features[:LAYERS[layer]]`, same module indices (so same state-dict keys)."""
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {tuple(LAYERS)}, got {layer!r}")
    modules: list[nn.Module] = []
    channels = 3
    for item in CONFIG:
        if item == "M":
            modules.append(nn.MaxPool2d(2, 2))
        else:
            modules += [nn.Conv2d(channels, item, 3, padding=1), nn.ReLU()]
            channels = item
    return nn.Sequential(*modules[: LAYERS[layer]])
