"""Flatten: ``(N, d1, d2, ...) -> (N, d1 * d2 * ...)``, e.g. 28x28 images to 784 features."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import BuildContext, Layer


class Flatten(Layer):
    """Reshape each sample to a vector (a view: no copy)."""

    def _build(self, input_shape: tuple[int, ...], ctx: BuildContext) -> tuple[int, ...]:
        return (int(np.prod(input_shape)),)

    def forward(self, x: Any, training: bool = False) -> Any:
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: Any, need_dx: bool = True) -> Any:
        if not need_dx:
            return None
        assert self.input_shape is not None  # set by build
        return dy.reshape((dy.shape[0], *self.input_shape))
