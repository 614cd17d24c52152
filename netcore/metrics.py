"""Metrics (Keras names). Each batch contributes a device-side *sum* over its samples, so the
epoch value is a mean weighted by batch size and reaches the host only when displayed."""
from __future__ import annotations

from typing import Any

from .backend.base import Backend


class Metric:
    """``batch_sum(be, out, y_true)`` -> 0-d array; ``result(total, n)`` -> epoch value.

    ``out`` is the model output: probabilities, or logits when ``is_logits`` (fused head).
    """

    name = "metric"
    needs_probs = True

    def batch_sum(self, be: Backend, out: Any, y_true: Any, is_logits: bool) -> Any:
        raise NotImplementedError

    def result(self, total: float, n: int) -> float:
        return total / n


class CategoricalAccuracy(Metric):
    """Fraction of rows whose arg-max output matches the arg-max (or integer) target."""

    name = "accuracy"
    needs_probs = False  # argmax(logits) == argmax(softmax(logits))

    def __init__(self, sparse: bool = False) -> None:
        self.sparse = sparse

    def batch_sum(self, be, out, y_true, is_logits):
        xp = be.xp
        labels = y_true if self.sparse else xp.argmax(y_true, axis=1)
        return xp.count_nonzero(xp.argmax(out, axis=1) == labels)


class BinaryAccuracy(Metric):
    """Fraction of outputs on the right side of 0.5 (logit 0), averaged over all outputs."""

    name = "accuracy"
    needs_probs = False

    def batch_sum(self, be, out, y_true, is_logits):
        xp = be.xp
        pred = out > 0 if is_logits else out > 0.5
        hits = xp.count_nonzero(pred == (y_true > 0.5))
        return hits / out.shape[1]


class MeanSquaredError(Metric):
    """Mean of ``(y_pred - y_true)^2``."""

    name = "mse"

    def batch_sum(self, be, out, y_true, is_logits):
        d = out - y_true
        return (d * d).mean(axis=1).sum()


class RootMeanSquaredError(MeanSquaredError):
    """``sqrt`` of the epoch's mean squared error (Keras' RootMeanSquaredError)."""

    name = "rmse"

    def result(self, total, n):
        return (total / n) ** 0.5


class MeanAbsoluteError(Metric):
    """Mean of ``|y_pred - y_true|``."""

    name = "mae"

    def batch_sum(self, be, out, y_true, is_logits):
        return be.xp.abs(out - y_true).mean(axis=1).sum()


METRIC_NAMES = ("accuracy", "acc", "mse", "mean_squared_error", "rmse",
                "root_mean_squared_error", "mae", "mean_absolute_error")


def get(identifier: Any, loss_name: str) -> Metric:
    """A metric by name; ``accuracy`` becomes categorical, sparse or binary from the loss."""
    if isinstance(identifier, Metric):
        return identifier
    name = identifier.lower() if isinstance(identifier, str) else None
    if name in ("accuracy", "acc"):
        if loss_name == "binary_crossentropy":
            return BinaryAccuracy()
        return CategoricalAccuracy(sparse=loss_name == "sparse_categorical_crossentropy")
    if name in ("mse", "mean_squared_error"):
        return MeanSquaredError()
    if name in ("rmse", "root_mean_squared_error"):
        return RootMeanSquaredError()
    if name in ("mae", "mean_absolute_error"):
        return MeanAbsoluteError()
    raise ValueError(f"metrics must be names from {list(METRIC_NAMES)}, received {identifier!r}")
