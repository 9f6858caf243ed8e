"""The explicit list of trainable models: name -> (task class, data set builder)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mosaicgan.config import TrainConfig
from mosaicgan.train.classifier import ClassifierTask, classifier_dataset
from mosaicgan.train.cyclegan import CycleGANTask, cyclegan_dataset
from mosaicgan.train.pix2pix import Pix2PixTask, pix2pix_dataset
from mosaicgan.train.restorer import RestorerTask, restorer_dataset

TASKS: dict[str, tuple[Callable[[TrainConfig], Any], Callable[[TrainConfig], Any]]] = {
    "pix2pix": (Pix2PixTask, pix2pix_dataset),
    "cyclegan": (CycleGANTask, cyclegan_dataset),
    "classifier": (ClassifierTask, classifier_dataset),
    "restorer": (RestorerTask, restorer_dataset),
}
