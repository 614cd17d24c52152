"""Losses with Keras 3's names, arguments and values.

Every loss takes ``reduction`` (``"sum_over_batch_size"``, the default, ``"sum"`` or None);
the cross-entropies take ``from_logits`` and ``axis``, and the binary and categorical ones
``label_smoothing`` (targets become ``t (1 - s) + s / 2`` and ``t (1 - s) + s / C``).

Called on host arrays, ``loss(y_true, y_pred, sample_weight=None)`` is Keras' loss object:
the per-sample losses ``l`` (the class axis reduced) are weighted by ``sample_weight``,
which may be a scalar, one weight per sample, or one per timestep (it is broadcast against
``l`` after dropping or adding a trailing axis of 1), then reduced: ``sum(w l) / l.size``
(``"sum_over_batch_size"``), ``sum(w l)`` (``"sum"``), or returned whole (None). It computes
in ``y_pred``'s float dtype (float32 inputs give Keras' float32 values, clip included).

In training the loss takes the model's ``(N, C)`` output on the device and returns the
batch loss and its gradient (``forward_backward``). The cross-entropies take **logits**
through one backend op (``Backend.softmax_xent`` / ``sigmoid_bce``: log-sum-exp, gradient
``T softmax(z) - t`` or ``sigmoid(z) - t``, no log(0)): from a softmax/sigmoid last layer,
which then stops before its activation (``logits_loss``), or, with ``from_logits=True``,
from a last layer without activation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np

from . import validation
from .backend.base import Backend
from .keras_support import raise_missing

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


_LOSSES: dict[str, type[Loss]] = {
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "huber": Huber,
    "kl_divergence": KLDivergence,
    "kld": KLDivergence,
    "root_mean_squared_error": RootMeanSquaredError,
    "rmse": RootMeanSquaredError,
    "binary_crossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
}
LOSS_NAMES = tuple(_LOSSES)

mean_squared_error = mse = MeanSquaredError()
mean_absolute_error = mae = MeanAbsoluteError()
root_mean_squared_error = rmse = RootMeanSquaredError()
binary_crossentropy = BinaryCrossentropy()
categorical_crossentropy = CategoricalCrossentropy()
sparse_categorical_crossentropy = SparseCategoricalCrossentropy()


def get(identifier: Any) -> Loss:
    """A loss for ``compile`` from its name or instance (unknown names list the valid ones);
    training needs one number per batch: ``reduction=None`` and ``axis != -1`` are refused."""
    if isinstance(identifier, str) and identifier.lower() in _LOSSES:
        return _LOSSES[identifier.lower()]()
    if not isinstance(identifier, Loss):
        raise ValueError(
            f"loss must be one of {list(LOSS_NAMES)} or a netcore.losses.Loss, "
            f"received {identifier!r}"
        )
    if identifier.reduction is None:
        raise ValueError(
            f"compile needs a loss that reduces to one number: {identifier!r} has "
            "reduction=None; use 'sum_over_batch_size' (the default) or 'sum'"
        )
    if identifier.axis not in (-1, 1):
        raise ValueError(
            f"compile trains over the last axis of the (N, C) output: axis must be -1. "
            f"Received: axis={identifier.axis!r}"
        )
    return identifier


def from_config(config: Any) -> Loss:
    """The loss ``get_config()`` describes (``{"name": ..., <its arguments>}``)."""
    if not isinstance(config, dict) or config.get("name") not in _LOSSES:
        raise ValueError(
            f"a loss config is {{'name': one of {list(LOSS_NAMES)}, ...}}. "
            f"Received: {config!r:.200}"
        )
    args = dict(config)
    return get(_LOSSES[args.pop("name")](**args))


if not TYPE_CHECKING:  # hidden from mypy, which would otherwise accept any attribute

    def __getattr__(name: str) -> NoReturn:
        """A Keras name netcore lacks (``LSTM``) raises ``NotInNetcoreError``, pointing to
        the table of what netcore has; any other missing name, ``AttributeError``."""
        raise_missing(__name__, name)
