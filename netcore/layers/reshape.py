"""Reshape: each sample to ``target_shape`` (one ``-1`` allowed: inferred), as Keras."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import validation
from .base import BuildContext, Layer


class Reshape(Layer):
    """``(N, *input_shape) -> (N, *target_shape)`` (a view: no copy)."""

    def __init__(self, target_shape: Any, input_shape: Any = None, name: str | None = None) -> None:
        super().__init__(input_shape, name)
        dims = (target_shape,) if validation.is_integer(target_shape) else target_shape
        try:
            dims = tuple(dims)
            ok = (
                len(dims) > 0
                and all(validation.is_integer(d) and (d > 0 or d == -1) for d in dims)
                and sum(d == -1 for d in dims) <= 1
            )
        except TypeError:
            ok = False
        if not ok:
            raise ValueError(
                "target_shape must be a tuple of positive integers with at most one -1, "
                f"received target_shape={target_shape!r}"
            )
        self.target_shape = tuple(int(d) for d in dims)

    def _build(self, input_shape: tuple[int, ...], ctx: BuildContext) -> tuple[int, ...]:
        size = int(np.prod(input_shape))
        known = int(np.prod([d for d in self.target_shape if d != -1]))
        if -1 in self.target_shape:
            if size % known:
                raise ValueError(
                    f"Reshape: cannot reshape input of shape {input_shape} ({size} values) "
                    f"to target_shape={self.target_shape}"
                )
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise ValueError(
                f"Reshape: input of shape {input_shape} has {size} values, "
                f"target_shape={self.target_shape} has {known}"
            )
        return self.target_shape

    def forward(self, x: Any, training: bool = False) -> Any:
        assert self.output_shape is not None
        return x.reshape(x.shape[0], *self.output_shape)

    def backward(self, dy: Any, need_dx: bool = True) -> Any:
        if not need_dx:
            return None
        assert self.input_shape is not None
        return dy.reshape(dy.shape[0], *self.input_shape)

    def get_config(self) -> dict:
        return {**super().get_config(), "target_shape": list(self.target_shape)}
