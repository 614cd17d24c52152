"""Losses on probabilities: the cross-entropies (from logits through one backend op) and the
Kullback-Leibler divergence."""

from __future__ import annotations

import numpy as np

from .. import validation
from .base import _EPS, Loss, _check_smoothing


class KLDivergence(Loss):
    """``l = sum_c t_c log(t_c / p_c)`` with ``t``, ``p`` clipped to ``[eps, 1]`` (Keras);
    gradient ``-t_c / p_c`` where ``p`` is inside the clip, else 0."""

    name = "kl_divergence"

    def _outputs(self, be, y_pred, y_true, grad_out, sample_weight):
        xp = be.xp
        t = xp.clip(y_true, _EPS, 1.0)
        p = xp.clip(y_pred, _EPS, 1.0)
        elem = t * xp.log(t / p)
        grad = xp.divide(-t, p, out=grad_out)
        grad *= (y_pred > _EPS) & (y_pred < 1.0)
        c = y_pred.shape[-1]
        elem *= c  # reduce_loss takes the mean over the classes; KL is their sum
        grad *= c
        return be.reduce_loss(elem, grad, sample_weight)

    def call(self, y_true, y_pred):
        t, p = np.clip(y_true, _EPS, 1.0), np.clip(y_pred, _EPS, 1.0)
        return np.sum(t * np.log(t / p), axis=-1)


class _CrossEntropy(Loss):
    """The arguments the cross-entropies share."""

    def __init__(
        self,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
    ) -> None:
        super().__init__(reduction)
        self.from_logits = validation.check_bool(from_logits, "from_logits")
        self.label_smoothing = _check_smoothing(label_smoothing)
        if not validation.is_integer(axis):
            raise ValueError(f"axis must be an integer. Received: axis={axis!r}")
        self.axis = int(axis)

    def get_config(self):
        return {
            **super().get_config(),
            "from_logits": self.from_logits,
            "label_smoothing": self.label_smoothing,
            "axis": self.axis,
        }


class BinaryCrossentropy(_CrossEntropy):
    """``l = mean_c -(t log p + (1 - t) log(1 - p))``, ``p`` clipped to ``[eps, 1 - eps]``;
    from logits ``z``: ``mean_c max(z, 0) - z t + log(1 + exp(-|z|))``, gradient
    ``(sigmoid(z) - t) / C``. ``label_smoothing`` s: ``t <- t (1 - s) + s / 2``."""

    name = "binary_crossentropy"
    head = "sigmoid"

    def _smoothed(self, be, y_true, classes):
        s = self.label_smoothing
        return y_true * (1 - s) + 0.5 * s if s else y_true

    def _outputs(self, be, y_pred, y_true, grad_out, sample_weight):
        return be.binary_crossentropy(
            y_pred, y_true, grad_out=grad_out, sample_weight=sample_weight
        )

    def _logits(self, be, logits, y_true, grad_out, sample_weight):
        return be.sigmoid_bce(logits, y_true, grad_out=grad_out, sample_weight=sample_weight)

    def call(self, y_true, y_pred):
        t = self._smoothed(None, y_true, 2)
        if self.from_logits:
            z = y_pred
            elem = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
        else:
            eps = y_pred.dtype.type(_EPS)
            p = np.clip(y_pred, eps, 1 - eps)
            elem = -(t * np.log(p) + (1 - t) * np.log(1 - p))
        return np.mean(elem, axis=self.axis)


class CategoricalCrossentropy(_CrossEntropy):
    """``l = -sum_c t_c log q_c`` with ``q = p / sum_c p_c`` clipped to ``[eps, 1 - eps]``
    (Keras), for any targets (one-hot, soft); from logits ``z``:
    ``T logsumexp(z) - sum_c t_c z_c`` (``T = sum_c t_c``), gradient ``T softmax(z) - t``.
    ``label_smoothing`` s: ``t <- t (1 - s) + s / C``."""

    name = "categorical_crossentropy"
    head = "softmax"
    target_kind = "onehot"

    def _smoothed(self, be, y_true, classes):
        s = self.label_smoothing
        return y_true * (1 - s) + s / classes if s else y_true

    def _outputs(self, be, y_pred, y_true, grad_out, sample_weight):
        return be.categorical_crossentropy(
            y_pred, y_true, grad_out=grad_out, sample_weight=sample_weight
        )

    def _logits(self, be, logits, y_true, grad_out, sample_weight):
        return be.softmax_xent(logits, y_true, grad_out=grad_out, sample_weight=sample_weight)

    def call(self, y_true, y_pred):
        ax = self.axis
        t = self._smoothed(None, y_true, y_pred.shape[ax])
        if self.from_logits:
            shifted = y_pred - y_pred.max(axis=ax, keepdims=True)
            log_q = shifted - np.log(np.exp(shifted).sum(axis=ax, keepdims=True))
        else:
            eps = y_pred.dtype.type(_EPS)
            log_q = np.log(np.clip(y_pred / y_pred.sum(axis=ax, keepdims=True), eps, 1 - eps))
        return -np.sum(t * log_q, axis=ax)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with integer labels instead of one-hot rows (no label
    smoothing, as Keras)."""

    name = "sparse_categorical_crossentropy"
    target_kind = "sparse"

    def __init__(
        self,
        from_logits: bool = False,
        axis: int = -1,
        reduction: str | None = "sum_over_batch_size",
    ) -> None:
        super().__init__(from_logits, 0.0, axis, reduction)

    def _host_targets(self, y_true, yp):
        labels = np.asarray(y_true)
        if labels.ndim == yp.ndim and labels.shape[-1:] == (1,):
            labels = labels.reshape(labels.shape[:-1])  # (N, 1) labels, as Keras takes them
        flat = validation.check_labels(labels.reshape(-1), yp.shape[self.axis], "y_true")
        onehot = np.zeros((flat.size, yp.shape[self.axis]), dtype=yp.dtype)
        onehot[np.arange(flat.size), flat] = 1
        return np.moveaxis(onehot.reshape(*labels.shape, -1), -1, self.axis)

    def get_config(self):
        config = super().get_config()
        del config["label_smoothing"]
        return config
