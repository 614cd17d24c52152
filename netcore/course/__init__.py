"""The course's own pieces: its models, its walk-through and its advice.

* :mod:`netcore.course.linear`: ``y-hat = m x + b`` fitted by gradient descent, every number
  printed (``netcore linear``).
* :func:`build_mlp`: the image classifier of the course (``netcore train``).
* :func:`build_cnn`: the course's convolutional network (``netcore train --model cnn``).
* :func:`overfitting_advice`: the verdict printed after training, from the accuracy gap and
  the validation-loss trend.
"""

from __future__ import annotations

from . import linear
from .cnn import CNN_INPUT_SHAPE, build_cnn
from .mlp import IMAGE_SHAPE, build_mlp
from .overfitting import OVERFIT_THRESHOLD, RISING_EPOCHS, overfitting_advice

__all__ = [
    "linear",
    "build_mlp",
    "build_cnn",
    "CNN_INPUT_SHAPE",
    "IMAGE_SHAPE",
    "overfitting_advice",
    "OVERFIT_THRESHOLD",
    "RISING_EPOCHS",
]
