"""Layers: ``from netcore.layers import Input, Dense, Activation, Flatten, Dropout``."""

from .activation import Activation
from .base import Layer
from .dense import Dense
from .dropout import Dropout
from .flatten import Flatten
from .input import Input

__all__ = ["Layer", "Input", "Dense", "Activation", "Flatten", "Dropout"]

LAYER_CLASSES = {cls.__name__: cls for cls in (Dense, Activation, Flatten, Dropout)}
