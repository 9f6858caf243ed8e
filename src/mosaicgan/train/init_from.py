"""Starting a new run from the weights of an earlier one (`--init-from CKPT`, run.init_from).

Fine-tuning and staged training both need it: a longer schedule for a run whose schedule has
ended, a lower learning rate, new data, or the second stage of a model whose first stage trains
only some of its networks. Only the networks' weights are taken; the optimizer, schedule, RNG
and step count start afresh (continuing the same schedule is `--resume`).
"""

from __future__ import annotations

from pathlib import Path

from torch import nn

from mosaicgan.checkpoint import load_checkpoint
from mosaicgan.errors import UserError


def init_from_checkpoint(nets: dict[str, nn.Module], path: str | Path, *, model: str) -> list[str]:
    """Load into `nets` every network of the same name in checkpoint `path` (a file or a run
    folder) of the same model. Networks the checkpoint lacks keep their fresh initialisation;
    at least one must be found. Returns the names loaded. Shape mismatches raise UserError
    naming the file and the network."""
    ckpt = load_checkpoint(path, kind=model)
    loaded = []
    for name, net in nets.items():
        if name not in ckpt.nets:
            continue
        try:
            net.load_state_dict(ckpt.nets[name].state_dict())
        except RuntimeError as err:
            first = str(err).strip().splitlines()[0]
            raise UserError(f"network {name!r} does not fit this run's ({first}); the run's nets.* settings must "
                            "match the checkpoint's", path=ckpt.path) from None
        loaded.append(name)
    if not loaded:
        raise UserError(f"checkpoint has none of this run's networks ({', '.join(nets)})", path=ckpt.path)
    return loaded
