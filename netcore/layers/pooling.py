"""Pooling: MaxPooling2D (alias MaxPool2D), AveragePooling2D, GlobalAveragePooling2D."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _spatial
from .base import BuildContext, Layer


class _Pooling2D(Layer):
    """A ``pool_size`` window moved by ``strides`` (None: ``pool_size``) over each channel."""

    #: The default layer name, Keras' (``max_pooling2d``, ``average_pooling2d``).
    default_name = "pooling2d"

    def __init__(
        self,
        pool_size: Any = (2, 2),
        strides: Any = None,
        padding: str = "valid",
        data_format: str | None = None,
        input_shape: Any = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape, name or self.default_name)
        self.pool_size = _spatial.pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else _spatial.pair(strides, "strides")
        self.padding = _spatial.padding(padding)
        if data_format not in (None, "channels_last"):
            raise ValueError(
                f"{type(self).__name__} supports data_format='channels_last' only, "
                f"received data_format={data_format!r}"
            )

    def _build(self, input_shape: tuple[int, ...], ctx: BuildContext) -> tuple[int, ...]:
        shape = _spatial.image_shape(type(self).__name__, input_shape)
        self.win = _spatial.window(
            type(self).__name__, "pool_size", shape, self.pool_size, self.strides, self.padding
        )
        return (self.win.ho, self.win.wo, shape[2])

    def _out_shape(self, x: Any) -> tuple[int, ...]:
        assert self.output_shape is not None
        return (x.shape[0], *self.output_shape)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "pool_size": list(self.pool_size),
            "strides": list(self.strides),
            "padding": self.padding,
        }


class MaxPooling2D(_Pooling2D):
    """``y = max`` over each window (padding never wins). Backward: each ``dy`` goes to ONE
    input, the first maximum of its window in row-major order (ties are common after ReLU;
    sending ``dy`` to every tied input would multiply the gradient)."""

    default_name = "max_pooling2d"

    def forward(self, x: Any, training: bool = False) -> Any:
        be = self.backend
        if not x.flags.c_contiguous:
            x = be.xp.ascontiguousarray(x)
        shape = self._out_shape(x)
        self._x_shape = x.shape
        y, self._idx = be.max_pool(
            x, self.win, out=self.buffer("y", shape), idx_out=self.buffer("idx", shape, np.int32)
        )
        return y

    def backward(self, dy: Any, need_dx: bool = True) -> Any:
        if not need_dx:
            return None
        be = self.backend
        if not dy.flags.c_contiguous:
            dy = be.xp.ascontiguousarray(dy)
        return be.max_pool_grad(
            dy, self._idx, self._x_shape, self.win, out=self.buffer("dx", self._x_shape)
        )


class AveragePooling2D(_Pooling2D):
    """``y = mean`` over the real inputs of each window ("same" padding is not counted, as
    Keras); backward: each input gets ``dy / count`` of every window holding it."""

    default_name = "average_pooling2d"

    def forward(self, x: Any, training: bool = False) -> Any:
        be = self.backend
        if not x.flags.c_contiguous:
            x = be.xp.ascontiguousarray(x)
        self._x_shape = x.shape
        return be.avg_pool(x, self.win, out=self.buffer("y", self._out_shape(x)))

    def backward(self, dy: Any, need_dx: bool = True) -> Any:
        if not need_dx:
            return None
        be = self.backend
        if not dy.flags.c_contiguous:
            dy = be.xp.ascontiguousarray(dy)
        return be.avg_pool_grad(dy, self._x_shape, self.win, out=self.buffer("dx", self._x_shape))


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D


class GlobalAveragePooling2D(Layer):
    """``y[n, c] = mean_{h, w} x[n, h, w, c]``: ``(N, H, W, C) -> (N, C)``."""

    def __init__(
        self, data_format: str | None = None, input_shape: Any = None, name: str | None = None
    ) -> None:
        super().__init__(input_shape, name or "global_average_pooling2d")
        if data_format not in (None, "channels_last"):
            raise ValueError(
                "GlobalAveragePooling2D supports data_format='channels_last' only, "
                f"received data_format={data_format!r}"
            )

    def _build(self, input_shape: tuple[int, ...], ctx: BuildContext) -> tuple[int, ...]:
        shape = _spatial.image_shape("GlobalAveragePooling2D", input_shape)
        return (shape[2],)

    def forward(self, x: Any, training: bool = False) -> Any:
        self._x_shape = x.shape
        return self.backend.xp.mean(x, axis=(1, 2), out=self.buffer("y", (x.shape[0], x.shape[3])))

    def backward(self, dy: Any, need_dx: bool = True) -> Any:
        if not need_dx:
            return None
        n, h, w, c = self._x_shape
        dx = self.buffer("dx", self._x_shape)
        self.backend.xp.multiply(dy.reshape(n, 1, 1, c), 1.0 / (h * w), out=dx)
        return dx
