"""Dropout (inverted): in training ``y = x * mask / (1 - rate)``; identity at inference."""

from __future__ import annotations

from typing import Any

from .. import validation
from .base import Layer


class Dropout(Layer):
    """Drops each input with probability ``rate`` while training (seeded via the model)."""

    identity_at_inference = True

    def __init__(self, rate: float, input_shape: Any = None, name: str | None = None) -> None:
        super().__init__(input_shape, name)
        if not validation.is_real_number(rate) or not 0 <= rate < 1:
            raise ValueError(f"rate must be a number in [0, 1), received {rate!r}")
        self.rate = float(rate)

    def forward(self, x: Any, training: bool = False) -> Any:
        self._mask = None
        if not training or self.rate == 0.0:
            return x
        be = self.backend
        self._mask = be.dropout_mask(
            x.shape, self.rate, self.dtype, out=self.buffer("mask", x.shape)
        )
        mask = self._mask
        return be.xp.multiply(x, mask, out=self.buffer("y", x.shape))

    def backward(self, dy: Any, need_dx: bool = True) -> Any:
        if self._mask is None:
            return dy
        dy *= self._mask
        return dy

    def get_config(self) -> dict:
        return {**super().get_config(), "rate": self.rate}
