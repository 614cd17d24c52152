"""Layers: ``from netcore.layers import Input, Dense, Conv2D, MaxPooling2D, ...``."""

from typing import TYPE_CHECKING, NoReturn

from ..keras_support import raise_missing
from .activation import Activation
from .augment import RandomFlip, RandomRotation, RandomTranslation, RandomZoom
from .base import Layer
from .batchnorm import BatchNormalization
from .conv import Conv2D
from .dense import Dense
from .dropout import Dropout
from .flatten import Flatten
from .input import Input
from .pooling import (
    AveragePooling2D,
    AvgPool2D,
    GlobalAveragePooling2D,
    MaxPool2D,
    MaxPooling2D,
)
from .reshape import Reshape

__all__ = [
    "Layer",
    "Input",
    "Dense",
    "Activation",
    "Flatten",
    "Dropout",
    "Conv2D",
    "MaxPooling2D",
    "MaxPool2D",
    "AveragePooling2D",
    "AvgPool2D",
    "GlobalAveragePooling2D",
    "BatchNormalization",
    "Reshape",
    "RandomFlip",
    "RandomRotation",
    "RandomZoom",
    "RandomTranslation",
]

LAYER_CLASSES = {
    cls.__name__: cls
    for cls in (
        Dense,
        Activation,
        Flatten,
        Dropout,
        Conv2D,
        MaxPooling2D,
        AveragePooling2D,
        GlobalAveragePooling2D,
        BatchNormalization,
        Reshape,
        RandomFlip,
        RandomRotation,
        RandomZoom,
        RandomTranslation,
    )
}


if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any attribute

    def __getattr__(name: str) -> NoReturn:
        """A Keras name netcore lacks (``LSTM``) raises ``NotInNetcoreError``, pointing to
        the table of what netcore has; any other missing name, ``AttributeError``."""
        raise_missing(__name__, name)
