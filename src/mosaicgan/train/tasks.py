"""Each trainable model's task class and data set builder, resolved from the one table of
models (`mosaicgan.models`, where a model is added)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from mosaicgan.config import TrainConfig
from mosaicgan.models import MODELS


def _resolve(target: str) -> Any:
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


TASKS: dict[str, tuple[Callable[[TrainConfig], Any], Callable[[TrainConfig], Any]]] = {
    name: (_resolve(spec.task), _resolve(spec.dataset)) for name, spec in MODELS.items()
}
