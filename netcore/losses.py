"""Losses (Keras names). Each returns the batch loss as a 0-d device array and its gradient.

Softmax + categorical cross-entropy and sigmoid + binary cross-entropy take the fused path
(``Backend.softmax_xent`` / ``Backend.sigmoid_bce``): the model hands them logits, the loss
comes from log-sum-exp and the gradient is ``(p - t) / N``: no log(0), no inf, no NaN.
"""
from __future__ import annotations

from typing import Any

from .backend.base import Backend

_EPS = 1e-7  # Keras' clipping epsilon for losses on probabilities


class Loss:
    """``forward_backward(be, y_pred, y_true, grad_out)`` -> ``(mean loss, d loss / d y_pred)``."""

    name = "loss"
    #: activation of the output layer this loss fuses with ("softmax", "sigmoid" or None)
    fused_head: str | None = None
    #: "onehot" (N, C) float targets, "sparse" (N,) integer labels, "dense" (N, C) values
    target_kind = "dense"

    def forward_backward(self, be: Backend, y_pred: Any, y_true: Any, grad_out: Any = None):
        raise NotImplementedError

    def fused(self, be: Backend, logits: Any, y_true: Any, grad_out: Any = None):
        """Loss and gradient with respect to the logits of the fused head."""
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        """Evaluate on host arrays (probabilities, as Keras): ``loss(y_true, y_pred)``."""
        import numpy as np

        from .backend.cpu import CPUBackend

        be = CPUBackend()
        dt = np.float64
        yp = np.array(y_pred, dtype=dt, ndmin=2)
        yt = np.asarray(y_true)
        yt = yt.astype(np.int64) if self.target_kind == "sparse" else np.array(yt, dtype=dt, ndmin=2)
        if self.target_kind != "sparse" and yt.shape != yp.shape and yt.size == yp.size:
            yt = yt.reshape(yp.shape)
        loss, _ = self.forward_backward(be, yp, yt)
        return float(loss)

    def get_config(self) -> dict:
        return {"name": self.name}


class MeanSquaredError(Loss):
    """``mean((y_pred - y_true)^2)``; gradient ``2 (y_pred - y_true) / (N C)``."""

    name = "mean_squared_error"

    def forward_backward(self, be, y_pred, y_true, grad_out=None):
        xp = be.xp
        diff = xp.subtract(y_pred, y_true, out=grad_out)
        loss = xp.mean(diff * diff)
        diff *= 2.0 / diff.size
        return loss, diff


class RootMeanSquaredError(Loss):
    """``sqrt(mean((y_pred - y_true)^2))`` over the batch (the course's RMSE, as Keras' metric);
    gradient ``(y_pred - y_true) / (N C rmse)`` (zero where rmse is 0)."""

    name = "root_mean_squared_error"

    def forward_backward(self, be, y_pred, y_true, grad_out=None):
        xp = be.xp
        diff = xp.subtract(y_pred, y_true, out=grad_out)
        loss = xp.sqrt(xp.mean(diff * diff))
        diff *= xp.where(loss > 0, 1.0 / (diff.size * xp.maximum(loss, 1e-30)), 0.0).astype(diff.dtype)
        return loss, diff


class BinaryCrossentropy(Loss):
    """``-mean(t log p + (1 - t) log(1 - p))`` with p clipped to [eps, 1 - eps] (Keras);
    fused with a sigmoid output: ``max(z,0) - z t + log(1 + exp(-|z|))``, grad ``(p - t)/(N C)``."""

    name = "binary_crossentropy"
    fused_head = "sigmoid"

    def forward_backward(self, be, y_pred, y_true, grad_out=None):
        xp = be.xp
        p = xp.clip(y_pred, _EPS, 1 - _EPS)
        loss = -xp.mean(y_true * xp.log(p) + (1 - y_true) * xp.log(1 - p))
        grad = xp.divide(p - y_true, p * (1 - p), out=grad_out)
        grad /= grad.size
        return loss, grad

    def fused(self, be, logits, y_true, grad_out=None):
        return be.sigmoid_bce(logits, y_true, grad_out=grad_out)


class CategoricalCrossentropy(Loss):
    """``-mean_rows sum_c t_c log q_c``, ``q = p / sum p`` clipped to [eps, 1 - eps] (Keras);
    fused with a softmax output: ``logsumexp(z) - sum t z``, grad ``(softmax(z) - t) / N``."""

    name = "categorical_crossentropy"
    fused_head = "softmax"
    target_kind = "onehot"

    def forward_backward(self, be, y_pred, y_true, grad_out=None):
        xp = be.xp
        n, c = y_pred.shape
        t = self._dense_targets(be, y_true, y_pred)
        s = y_pred.sum(axis=1, keepdims=True)
        q = xp.clip(y_pred / s, _EPS, 1 - _EPS)
        loss = -xp.mean(xp.sum(t * xp.log(q), axis=1))
        # d/dp_j of -sum_c t_c log(p_c / S) = (-t_j / q_j + sum_c t_c) / S
        grad = xp.divide(-t, q, out=grad_out)
        grad += t.sum(axis=1, keepdims=True)
        grad /= s
        grad /= n
        return loss, grad

    def _dense_targets(self, be, y_true, y_pred):
        return y_true

    def fused(self, be, logits, y_true, grad_out=None):
        return be.softmax_xent(logits, y_true, grad_out=grad_out)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with integer labels ``(N,)`` instead of one-hot rows."""

    name = "sparse_categorical_crossentropy"
    target_kind = "sparse"

    def _dense_targets(self, be, y_true, y_pred):
        xp = be.xp
        t = xp.zeros_like(y_pred)
        t[xp.arange(y_pred.shape[0]), y_true] = 1
        return t


_LOSSES = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError,
    "root_mean_squared_error": RootMeanSquaredError, "rmse": RootMeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
LOSS_NAMES = tuple(_LOSSES)

mean_squared_error = mse = MeanSquaredError()
root_mean_squared_error = rmse = RootMeanSquaredError()
binary_crossentropy = BinaryCrossentropy()
categorical_crossentropy = CategoricalCrossentropy()
sparse_categorical_crossentropy = SparseCategoricalCrossentropy()


def get(identifier: Any) -> Loss:
    """A loss from its name or instance; unknown names list the valid ones."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in _LOSSES:
        return _LOSSES[identifier.lower()]()
    raise ValueError(f"loss must be one of {list(LOSS_NAMES)} or a netcore.losses.Loss, "
                     f"received {identifier!r}")
