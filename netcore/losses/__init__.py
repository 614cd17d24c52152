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

from ..keras_support import raise_missing
from .base import REDUCTIONS as REDUCTIONS
from .base import Loss
from .probabilistic import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    KLDivergence,
    SparseCategoricalCrossentropy,
)
from .regression import Huber, MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError

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
