"""Metrics (Keras names). Each batch contributes a device-side *sum* over its samples, so the
epoch value is a mean weighted by batch size and reaches the host only when displayed.

With per-sample weights ``w`` (``sample_weight`` / ``class_weight``) a metric is the weighted
mean of its per-sample values ``v_i``, as Keras 3's metrics: ``sum_i w_i v_i / sum_i w_i``
over the epoch (0 when every weight is 0). The batch sum is then ``sum_i w_i v_i`` and the
denominator ``sum_i w_i`` (the trainer keeps it); without weights, ``w_i = 1``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

from .backend.base import Backend
from .keras_support import raise_missing


class Metric:
    """``batch_sum(be, out, y_true, is_logits, sample_weight)`` -> 0-d array ``sum_i w_i v_i``;
    ``result(total, n)`` -> epoch value from the summed ``total`` and ``n = sum_i w_i``.

    ``out`` is the model output: probabilities, or logits when ``is_logits`` (fused head).
    Subclasses implement :meth:`per_sample` (``v_i``, shape (N,)), or override ``batch_sum``.
    """

    name = "metric"
    needs_probs = True

    def per_sample(self, be: Backend, out: Any, y_true: Any, is_logits: bool) -> Any:
        """``v_i`` for each sample of the batch, shape (N,)."""
        raise NotImplementedError

    def batch_sum(
        self, be: Backend, out: Any, y_true: Any, is_logits: bool, sample_weight: Any = None
    ) -> Any:
        v = self.per_sample(be, out, y_true, is_logits)
        if sample_weight is None:
            return v.sum()
        return (v * sample_weight).sum()

    def result(self, total: float, n: float) -> float:
        return total / n


class CategoricalAccuracy(Metric):
    """Fraction of rows whose arg-max output matches the arg-max (or integer) target."""

    name = "accuracy"
    needs_probs = False  # argmax(logits) == argmax(softmax(logits))

    def __init__(self, sparse: bool = False) -> None:
        self.sparse = sparse

    def per_sample(self, be, out, y_true, is_logits):
        xp = be.xp
        labels = y_true if self.sparse else xp.argmax(y_true, axis=1)
        return xp.argmax(out, axis=1) == labels

    def batch_sum(self, be, out, y_true, is_logits, sample_weight=None):
        hits = self.per_sample(be, out, y_true, is_logits)
        if sample_weight is None:
            return be.xp.count_nonzero(hits)
        return (hits * sample_weight).sum()


class BinaryAccuracy(Metric):
    """Fraction of outputs on the right side of 0.5 (logit 0), averaged over all outputs
    (per sample: the mean over its outputs)."""

    name = "accuracy"
    needs_probs = False

    def per_sample(self, be, out, y_true, is_logits):
        pred = out > 0 if is_logits else out > 0.5
        return (pred == (y_true > 0.5)).mean(axis=1)

    def batch_sum(self, be, out, y_true, is_logits, sample_weight=None):
        if sample_weight is not None:
            return super().batch_sum(be, out, y_true, is_logits, sample_weight)
        pred = out > 0 if is_logits else out > 0.5
        hits = be.xp.count_nonzero(pred == (y_true > 0.5))
        return hits / out.shape[1]


class MeanSquaredError(Metric):
    """Mean of ``(y_pred - y_true)^2`` (per sample: over its outputs)."""

    name = "mse"

    def per_sample(self, be, out, y_true, is_logits):
        d = out - y_true
        return (d * d).mean(axis=1)


class RootMeanSquaredError(MeanSquaredError):
    """``sqrt`` of the epoch's mean squared error (Keras' RootMeanSquaredError)."""

    name = "rmse"

    def result(self, total, n):
        return (total / n) ** 0.5


class MeanAbsoluteError(Metric):
    """Mean of ``|y_pred - y_true|`` (per sample: over its outputs)."""

    name = "mae"

    def per_sample(self, be, out, y_true, is_logits):
        return be.xp.abs(out - y_true).mean(axis=1)


METRIC_NAMES = (
    "accuracy",
    "acc",
    "mse",
    "mean_squared_error",
    "rmse",
    "root_mean_squared_error",
    "mae",
    "mean_absolute_error",
)


class _AccuracyByShape(Metric):
    """``metrics=["accuracy"]``, resolved per batch from the shapes as Keras 3 does: binary
    accuracy (threshold 0.5, or logit 0 when the loss takes logits) for a one-unit output or
    a binary loss, sparse categorical for integer labels ``(N,)``, categorical for one-hot
    rows."""

    name = "accuracy"
    needs_probs = False

    def __init__(self, binary_loss: bool = False, from_logits: bool = False) -> None:
        self.binary_loss, self.from_logits = binary_loss, from_logits
        self._binary, self._sparse, self._onehot = (
            BinaryAccuracy(),
            CategoricalAccuracy(True),
            (CategoricalAccuracy(False)),
        )

    def _pick(self, out: Any, y_true: Any) -> Metric:
        if self.binary_loss or out.shape[-1] == 1:
            return self._binary
        return self._sparse if y_true.ndim == 1 else self._onehot

    def batch_sum(self, be, out, y_true, is_logits, sample_weight=None):
        return self._pick(out, y_true).batch_sum(
            be, out, y_true, is_logits or self.from_logits, sample_weight
        )


def get(identifier: Any, loss: Any = None) -> Metric:
    """A metric by name; ``accuracy`` resolves from the output and label shapes and the
    ``loss`` (a netcore Loss, or its name) as Keras 3 does (:class:`_AccuracyByShape`;
    Keras' ``Accuracy`` class, exact equality, is another metric that netcore lacks)."""
    if isinstance(identifier, Metric):
        return identifier
    name = identifier.lower() if isinstance(identifier, str) else None
    if name in ("accuracy", "acc"):
        loss_name = getattr(loss, "name", loss)
        return _AccuracyByShape(
            binary_loss=loss_name == "binary_crossentropy",
            from_logits=bool(getattr(loss, "from_logits", False)),
        )
    if name in ("mse", "mean_squared_error"):
        return MeanSquaredError()
    if name in ("rmse", "root_mean_squared_error"):
        return RootMeanSquaredError()
    if name in ("mae", "mean_absolute_error"):
        return MeanAbsoluteError()
    raise ValueError(f"metrics must be names from {list(METRIC_NAMES)}, received {identifier!r}")


if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any attribute

    def __getattr__(name: str) -> NoReturn:
        """A Keras name netcore lacks (``LSTM``) raises ``NotInNetcoreError``, pointing to
        the table of what netcore has; any other missing name, ``AttributeError``."""
        raise_missing(__name__, name)
