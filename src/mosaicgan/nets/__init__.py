"""Networks: pure nn.Modules with typed keyword arguments; no I/O, no config objects.

Importing this package registers every network (explicit imports, no file-name magic).
"""

from mosaicgan.nets import (  # noqa: F401  (registration)
    centerface,
    cogan,
    discogan,
    dong,
    mobilenet_v2,
    mosaic_detector,
    patchgan,
    resnet_gen,
    restorer,
    srresnet,
    unet,
    unit,
)
from mosaicgan.nets.layers import init_weights
from mosaicgan.nets.registry import build_from_spec, count_parameters, get_net, list_nets, register_net

__all__ = ["build_from_spec", "count_parameters", "get_net", "init_weights", "list_nets", "register_net"]
