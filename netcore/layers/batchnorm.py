"""BatchNormalization, as Keras 3 (moving statistics are non-trainable weights)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import validation
from .base import BuildContext, Layer


class BatchNormalization(Layer):
    """Normalize each feature along ``axis`` (the channels of images, by default the last).

    Training: ``y = gamma (x - mean) / sqrt(var + epsilon) + beta`` with the batch's
    per-channel ``mean`` and biased ``var`` (over every other axis), and the moving
    statistics updated every step: ``moving = moving * momentum + batch * (1 - momentum)``.
    Inference (``evaluate``, ``predict``, validation): the moving statistics instead.
    Weights, in Keras' order: ``gamma`` (if ``scale``), ``beta`` (if ``center``), trainable;
    ``moving_mean``, ``moving_variance``, non-trainable (in ``state``: saved and loaded, never
    touched by the optimizer). Backward (training mode, the closed form): with ``xhat = (x -
    mean) / sqrt(var + eps)``, ``dbeta = sum dy``, ``dgamma = sum dy xhat`` and ``dx = gamma /
    (M sqrt(var + eps)) (M dy - dbeta - xhat dgamma)`` over the M values of each channel.

    A frozen layer (``trainable = False``) runs in inference mode in training too, as in
    Keras 3 (fine-tuning keeps a pre-trained model's statistics): the moving statistics
    normalize and stay unchanged, and ``dx = dy gamma / sqrt(moving_variance + eps)``.
    """

    def __init__(
        self,
        axis: int = -1,
        momentum: float = 0.99,
        epsilon: float = 1e-3,
        center: bool = True,
        scale: bool = True,
        input_shape: Any = None,
        name: str | None = None,
    ) -> None:
        super().__init__(input_shape, name or "batch_normalization")
        if isinstance(axis, (list, tuple)) and len(axis) == 1:
            axis = axis[0]
        if not validation.is_integer(axis):
            raise ValueError(f"axis must be an integer, received axis={axis!r}")
        self.axis = int(axis)
        if not validation.is_real_number(momentum) or not 0 <= momentum <= 1:
            raise ValueError(f"momentum must be a number in [0, 1], received momentum={momentum!r}")
        if not validation.is_real_number(epsilon) or not epsilon > 0:
            raise ValueError(f"epsilon must be a positive number, received epsilon={epsilon!r}")
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center = validation.check_bool(center, "center")
        self.scale = validation.check_bool(scale, "scale")

    def _build(self, input_shape: tuple[int, ...], ctx: BuildContext) -> tuple[int, ...]:
        rank = len(input_shape) + 1  # with the batch axis, as Keras counts ``axis``
        if not (-rank <= self.axis < rank) or self.axis % rank == 0:
            raise ValueError(
                f"BatchNormalization: axis={self.axis} does not exist for inputs of shape "
                f"(batch, *{input_shape}): axis must be in [1, {rank - 1}] or "
                f"[-{rank - 1}, -1] (not the batch axis)"
            )
        self._ax = self.axis % rank  # in the batch's axes
        c = input_shape[self._ax - 1]
        be, dt = ctx.backend, ctx.dtype
        if self.scale:
            self.params["gamma"] = be.asarray(np.ones(c, dtype=dt))
        if self.center:
            self.params["beta"] = be.asarray(np.zeros(c, dtype=dt))
        self.state = {
            "moving_mean": be.asarray(np.zeros(c, dtype=dt)),
            "moving_variance": be.asarray(np.ones(c, dtype=dt)),
        }
        self._ones = be.asarray(np.ones(c, dtype=dt))  # gamma without scale
        self._zeros = be.asarray(np.zeros(c, dtype=dt))  # beta without center
        self._mean = be.asarray(np.zeros(c, dtype=dt))
        self._inv_std = be.asarray(np.ones(c, dtype=dt))
        self._last = self._ax == rank - 1
        return input_shape

    def _rows(self, x: Any) -> Any:
        """``x`` as ``(M, C)``: a view when the channels are the last axis, else a copy."""
        xp = self.backend.xp
        if not self._last:
            x = xp.moveaxis(x, self._ax, -1)
        return xp.ascontiguousarray(x).reshape(-1, x.shape[-1])

    def _unrows(self, rows: Any, shape: tuple[int, ...]) -> Any:
        if self._last:
            return rows.reshape(shape)
        moved = (*shape[: self._ax], *shape[self._ax + 1 :], shape[self._ax])
        return self.backend.xp.moveaxis(rows.reshape(moved), -1, self._ax)

    def forward(self, x: Any, training: bool = False) -> Any:
        be = self.backend
        self._shape = x.shape
        self._x2 = x2 = self._rows(x)
        self._frozen_pass = training and not self.trainable
        training = training and self.trainable
        y = be.batch_norm(
            x2,
            self.params.get("gamma", self._ones),
            self.params.get("beta", self._zeros),
            self.state["moving_mean"],
            self.state["moving_variance"],
            self.momentum,
            self.epsilon,
            bool(training),
            out=self.buffer("y", x2.shape),
            mean_out=self._mean,
            inv_std_out=self._inv_std,
        )
        return self._unrows(y, x.shape)

    def backward(self, dy: Any, need_dx: bool = True) -> Any:
        if self._frozen_pass:
            return self._inference_backward(dy, need_dx)
        be = self.backend
        c = self._x2.shape[1]
        dx, _, _ = be.batch_norm_grad(
            self._rows(dy),
            self._x2,
            self._mean,
            self._inv_std,
            self.params.get("gamma", self._ones),
            dx_out=self.buffer("dx", self._x2.shape),
            dgamma_out=self.grads["gamma"] if self.scale else self.buffer("dgamma", (c,)),
            dbeta_out=self.grads["beta"] if self.center else self.buffer("dbeta", (c,)),
        )
        return self._unrows(dx, self._shape) if need_dx else None

    def _inference_backward(self, dy: Any, need_dx: bool) -> Any:
        """The gradients of ``y = gamma (x - moving_mean) inv + beta`` (frozen layer)."""
        xp = self.backend.xp
        inv = (1.0 / xp.sqrt(self.state["moving_variance"] + self.epsilon)).astype(self.dtype)
        dy2 = self._rows(dy)
        if self.scale:
            xhat = (self._x2 - self.state["moving_mean"]) * inv
            self.grads["gamma"][...] = (dy2 * xhat).sum(axis=0)
        if self.center:
            self.grads["beta"][...] = dy2.sum(axis=0)
        if not need_dx:
            return None
        return self._unrows(dy2 * (self.params.get("gamma", self._ones) * inv), self._shape)

    def get_config(self) -> dict:
        return {
            **super().get_config(),
            "axis": self.axis,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }
