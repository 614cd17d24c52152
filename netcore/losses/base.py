"""The loss base class and Keras 3's weighting and reduction of per-sample losses."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import validation
from ..backend.base import Backend

_EPS = 1e-7
REDUCTIONS = ("sum_over_batch_size", "sum", None)


def _check_reduction(reduction: Any) -> str | None:
    if reduction is not None and (not isinstance(reduction, str) or reduction not in REDUCTIONS):
        raise ValueError(
            f"Invalid value for argument `reduction`: expected one of {list(REDUCTIONS)}. "
            f"Received: reduction={reduction!r}"
        )
    return reduction


def _check_smoothing(value: Any) -> float:
    if not validation.is_real_number(value) or not 0 <= float(value) <= 1:
        raise ValueError(f"label_smoothing must be in [0, 1]. Received: label_smoothing={value!r}")
    return float(value)


def _weighted_reduce(values: np.ndarray, sample_weight: Any, reduction: str | None) -> Any:
    """Keras' weighting and reduction of per-sample (or per-timestep) losses."""
    if sample_weight is not None:
        w = np.asarray(sample_weight, dtype=values.dtype)
        if w.ndim == values.ndim + 1 and w.shape[-1] == 1:
            w = w.reshape(w.shape[:-1])
        elif w.ndim and w.ndim == values.ndim - 1:
            w = w.reshape(*w.shape, 1)
        try:
            values = values * np.broadcast_to(w, values.shape)
        except ValueError:
            raise ValueError(
                f"sample_weight must have one weight per sample, shape ({values.shape[0]},), "
                f"one per timestep, shape {values.shape}, or be a scalar; received shape "
                f"{np.shape(sample_weight)}"
            ) from None
    if reduction is None:
        return values
    total = values.sum()
    if reduction == "sum":
        return float(total)
    return float(total / max(values.size, 1))


class Loss:
    """A loss: ``loss(y_true, y_pred, sample_weight)`` on host arrays (Keras' values), and
    on the device in training: ``forward_backward(be, y_pred, y_true, grad_out,
    sample_weight)`` -> ``(loss, d loss / d y_pred)``; a loss with a ``head`` also gives the
    loss and gradient with respect to the logits of that activation (``logits_loss``)."""

    name = "loss"
    #: the activation ("softmax", "sigmoid" or None) whose logits the fused path takes
    head: str | None = None
    #: "onehot" (N, C) float targets, "sparse" (N,) integer labels, "dense" (N, C) values
    target_kind = "dense"

    def __init__(self, reduction: str | None = "sum_over_batch_size") -> None:
        self.reduction = _check_reduction(reduction)
        self.from_logits = False
        self.label_smoothing = 0.0
        self.axis = -1

    @property
    def logits_head(self) -> str | None:
        """The last layer's activation whose logits the model hands this loss instead of its
        output; None with ``from_logits=True`` (the output already is the logits)."""
        return None if self.from_logits else self.head

    # -- training (device arrays, (N, C))
    def forward_backward(
        self, be: Backend, y_pred: Any, y_true: Any, grad_out: Any = None, sample_weight: Any = None
    ) -> tuple[Any, Any]:
        y_true = self._smoothed(be, y_true, y_pred.shape[-1])
        if self.from_logits:
            out = self._logits(be, y_pred, y_true, grad_out, sample_weight)
        else:
            out = self._outputs(be, y_pred, y_true, grad_out, sample_weight)
        return self._scaled(*out, y_pred.shape[0])

    def logits_loss(
        self, be: Backend, logits: Any, y_true: Any, grad_out: Any = None, sample_weight: Any = None
    ) -> tuple[Any, Any]:
        """Loss and gradient with respect to the logits of the ``head`` activation."""
        y_true = self._smoothed(be, y_true, logits.shape[-1])
        return self._scaled(*self._logits(be, logits, y_true, grad_out, sample_weight), len(logits))

    def _outputs(self, be, y_pred, y_true, grad_out, sample_weight) -> tuple[Any, Any]:
        raise NotImplementedError

    def _logits(self, be, logits, y_true, grad_out, sample_weight) -> tuple[Any, Any]:
        raise NotImplementedError(f"{type(self).__name__} takes no logits")

    def _smoothed(self, be: Backend, y_true: Any, classes: int) -> Any:
        return y_true

    def _scaled(self, loss: Any, grad: Any, n: int) -> tuple[Any, Any]:
        if self.reduction == "sum":  # the sum over the batch: N times the mean
            loss = loss * n
            grad *= n
        return loss, grad

    # -- host arrays, Keras' semantics
    def call(self, y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
        """Per-sample losses: ``y_pred`` with its class axis reduced."""
        raise NotImplementedError

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> Any:
        yp = np.asarray(y_pred)
        dt = yp.dtype if yp.dtype in (np.float32, np.float64) else np.dtype(np.float64)
        yp = np.array(yp, dtype=dt, ndmin=2)
        yt = self._host_targets(y_true, yp)
        return _weighted_reduce(self.call(yt, yp), sample_weight, self.reduction)

    def _host_targets(self, y_true: Any, yp: np.ndarray) -> np.ndarray:
        yt = np.array(y_true, dtype=yp.dtype, ndmin=2)
        if yt.shape != yp.shape and yt.size == yp.size and yt.ndim == 2 and yp.ndim == 2:
            yt = yt.reshape(yp.shape)  # a (N,) target for a one-unit (N, 1) output
        if yt.shape != yp.shape:
            raise ValueError(
                f"y_true and y_pred must have the same shape; received y_true of shape "
                f"{np.shape(y_true)} and y_pred of shape {yp.shape}"
            )
        return yt

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"
