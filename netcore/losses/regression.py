"""Losses on values: mean squared and absolute error, Huber, root mean squared error."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import validation
from .base import Loss


class MeanSquaredError(Loss):
    """``l = mean_c (y_pred - y_true)^2``; gradient ``2 (y_pred - y_true) / C`` per sample."""

    name = "mean_squared_error"

    def _outputs(self, be, y_pred, y_true, grad_out, sample_weight):
        diff = be.xp.subtract(y_pred, y_true, out=grad_out)
        sq = diff * diff
        diff *= 2.0
        return be.reduce_loss(sq, diff, sample_weight)

    def call(self, y_true, y_pred):
        return np.mean((y_pred - y_true) ** 2, axis=-1)


class MeanAbsoluteError(Loss):
    """``l = mean_c |y_pred - y_true|``; gradient ``sign(y_pred - y_true) / C``."""

    name = "mean_absolute_error"

    def _outputs(self, be, y_pred, y_true, grad_out, sample_weight):
        diff = be.xp.subtract(y_pred, y_true, out=grad_out)
        elem = be.xp.abs(diff)
        return be.reduce_loss(elem, be.xp.sign(diff, out=diff), sample_weight)

    def call(self, y_true, y_pred):
        return np.mean(np.abs(y_pred - y_true), axis=-1)


class Huber(Loss):
    """``l = mean_c h(e)``, ``e = y_pred - y_true``: ``h = e^2 / 2`` where ``|e| <= delta``,
    else ``delta |e| - delta^2 / 2``; gradient ``clip(e, -delta, delta) / C``."""

    name = "huber"

    def __init__(self, delta: float = 1.0, reduction: str | None = "sum_over_batch_size"):
        super().__init__(reduction)
        if not validation.is_real_number(delta) or not float(delta) > 0:
            raise ValueError(f"delta must be a positive number. Received: delta={delta!r}")
        self.delta = float(delta)

    @staticmethod
    def _elem(xp: Any, err: Any, delta: float) -> Any:
        a = xp.abs(err)
        return xp.where(a <= delta, 0.5 * err * err, delta * a - 0.5 * delta * delta)

    def _outputs(self, be, y_pred, y_true, grad_out, sample_weight):
        xp = be.xp
        err = xp.subtract(y_pred, y_true, out=grad_out)
        elem = self._elem(xp, err, self.delta).astype(err.dtype)
        return be.reduce_loss(elem, xp.clip(err, -self.delta, self.delta, out=err), sample_weight)

    def call(self, y_true, y_pred):
        return np.mean(self._elem(np, y_pred - y_true, self.delta), axis=-1)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class RootMeanSquaredError(Loss):
    """``sqrt(sum_i w_i mse_i / N)`` over the batch (the course's RMSE, as Keras' metric);
    gradient ``(y_pred - y_true) w_i / (N C rmse)`` (zero where rmse is 0)."""

    name = "root_mean_squared_error"

    def __init__(self, reduction: str | None = "sum_over_batch_size") -> None:
        super().__init__(reduction)
        if self.reduction != "sum_over_batch_size":
            raise ValueError(
                "RootMeanSquaredError is the root of the batch mean: reduction must be "
                f"'sum_over_batch_size'. Received: reduction={reduction!r}"
            )

    def _outputs(self, be, y_pred, y_true, grad_out, sample_weight):
        xp = be.xp
        diff = xp.subtract(y_pred, y_true, out=grad_out)
        mse, diff = be.reduce_loss(diff * diff, diff, sample_weight)
        loss = xp.sqrt(mse)
        diff *= xp.where(loss > 0, 1.0 / xp.maximum(loss, 1e-30), 0.0).astype(diff.dtype)
        return loss, diff

    def call(self, y_true, y_pred):
        return np.mean((y_pred - y_true) ** 2, axis=-1)

    def __call__(self, y_true, y_pred, sample_weight=None):
        return float(np.sqrt(super().__call__(y_true, y_pred, sample_weight)))
