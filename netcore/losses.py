"""Losses (Keras names). Each returns the batch loss as a 0-d device array and its gradient.

Reduction, as Keras 3's default ``"sum_over_batch_size"``: per-sample losses ``l_i``
(averaged over the non-batch axes), optionally weighted by ``sample_weight`` ``w`` (N,):
``loss = sum_i w_i l_i / N``, and the gradient of sample ``i`` is scaled by ``w_i / N``.

Softmax + categorical cross-entropy and sigmoid + binary cross-entropy also take the
model's **logits** (:meth:`Loss.from_logits`, through ``Backend.softmax_xent`` /
``Backend.sigmoid_bce``): the loss comes from log-sum-exp and the gradient is
``T softmax(z) - t`` (``T = sum_c t_c``; ``p - t`` for one-hot rows) or ``sigmoid(z) - t``:
no log(0), no inf, no NaN.
"""

from __future__ import annotations

from typing import Any

from .backend.base import Backend


class Loss:
    """``forward_backward(be, y_pred, y_true, grad_out, sample_weight)`` ->
    ``(loss, d loss / d y_pred)``; with a ``logits_head``, ``from_logits`` gives the loss and
    its gradient with respect to the logits of that output activation."""

    name = "loss"
    #: The activation of the last layer whose logits this loss takes instead of its output
    #: ("softmax", "sigmoid" or None): the model then hands :meth:`from_logits` the logits.
    logits_head: str | None = None
    #: "onehot" (N, C) float targets, "sparse" (N,) integer labels, "dense" (N, C) values
    target_kind = "dense"

    def forward_backward(
        self, be: Backend, y_pred: Any, y_true: Any, grad_out: Any = None, sample_weight: Any = None
    ) -> tuple[Any, Any]:
        raise NotImplementedError

    def from_logits(
        self, be: Backend, logits: Any, y_true: Any, grad_out: Any = None, sample_weight: Any = None
    ) -> tuple[Any, Any]:
        """Loss and gradient with respect to the logits of the ``logits_head`` activation."""
        raise NotImplementedError(f"{type(self).__name__} takes no logits (logits_head is None)")

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> float:
        """Evaluate on host arrays (probabilities, as Keras): ``loss(y_true, y_pred)``."""
        import numpy as np

        from . import validation
        from .backend.cpu import CPUBackend

        be = CPUBackend()
        dt = np.float64
        yp = np.array(y_pred, dtype=dt, ndmin=2)
        yt = np.asarray(y_true)
        yt = (
            validation.check_labels(yt, yp.shape[-1], "y_true")
            if self.target_kind == "sparse"
            else np.array(yt, dtype=dt, ndmin=2)
        )
        if self.target_kind != "sparse" and yt.shape != yp.shape and yt.size == yp.size:
            yt = yt.reshape(yp.shape)
        sw = None if sample_weight is None else np.array(sample_weight, dtype=dt).reshape(-1)
        if sw is not None and sw.shape != (yp.shape[0],):
            raise ValueError(
                f"sample_weight must have one weight per sample, shape "
                f"({yp.shape[0]},), received shape {np.shape(sample_weight)}"
            )
        loss, _ = self.forward_backward(be, yp, yt, sample_weight=sw)
        return float(loss)

    def get_config(self) -> dict:
        return {"name": self.name}


class MeanSquaredError(Loss):
    """``l_i = mean_c (y_pred - y_true)^2``; gradient ``2 (y_pred - y_true) w_i / (N C)``."""

    name = "mean_squared_error"

    def forward_backward(self, be, y_pred, y_true, grad_out=None, sample_weight=None):
        diff = be.xp.subtract(y_pred, y_true, out=grad_out)
        sq = diff * diff
        diff *= 2.0
        return be.reduce_loss(sq, diff, sample_weight)


class RootMeanSquaredError(Loss):
    """``sqrt(sum_i w_i mse_i / N)`` over the batch (the course's RMSE, as Keras' metric);
    gradient ``(y_pred - y_true) w_i / (N C rmse)`` (zero where rmse is 0)."""

    name = "root_mean_squared_error"

    def forward_backward(self, be, y_pred, y_true, grad_out=None, sample_weight=None):
        xp = be.xp
        diff = xp.subtract(y_pred, y_true, out=grad_out)
        mse, diff = be.reduce_loss(diff * diff, diff, sample_weight)
        loss = xp.sqrt(mse)
        diff *= xp.where(loss > 0, 1.0 / xp.maximum(loss, 1e-30), 0.0).astype(diff.dtype)
        return loss, diff


class BinaryCrossentropy(Loss):
    """``-mean(t log p + (1 - t) log(1 - p))`` with p clipped to [eps, 1 - eps] (Keras);
    from the logits of a sigmoid: ``max(z,0) - z t + log(1 + exp(-|z|))``, grad
    ``(sigmoid(z) - t) / C`` per sample."""

    name = "binary_crossentropy"
    logits_head = "sigmoid"

    def forward_backward(self, be, y_pred, y_true, grad_out=None, sample_weight=None):
        return be.binary_crossentropy(
            y_pred, y_true, grad_out=grad_out, sample_weight=sample_weight
        )

    def from_logits(self, be, logits, y_true, grad_out=None, sample_weight=None):
        return be.sigmoid_bce(logits, y_true, grad_out=grad_out, sample_weight=sample_weight)


class CategoricalCrossentropy(Loss):
    """``-sum_c t_c log q_c`` per row, ``q = p / sum p`` clipped to [eps, 1 - eps] (Keras),
    for any targets (one-hot, soft, rows not summing to 1); from the logits of a softmax:
    ``T logsumexp(z) - sum_c t_c z_c``, grad ``T softmax(z) - t`` per row (``T = sum_c t_c``)."""

    name = "categorical_crossentropy"
    logits_head = "softmax"
    target_kind = "onehot"

    def forward_backward(self, be, y_pred, y_true, grad_out=None, sample_weight=None):
        return be.categorical_crossentropy(
            y_pred, y_true, grad_out=grad_out, sample_weight=sample_weight
        )

    def from_logits(self, be, logits, y_true, grad_out=None, sample_weight=None):
        return be.softmax_xent(logits, y_true, grad_out=grad_out, sample_weight=sample_weight)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical cross-entropy with integer labels ``(N,)`` instead of one-hot rows."""

    name = "sparse_categorical_crossentropy"
    target_kind = "sparse"


_LOSSES = {
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "root_mean_squared_error": RootMeanSquaredError,
    "rmse": RootMeanSquaredError,
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
    raise ValueError(
        f"loss must be one of {list(LOSS_NAMES)} or a netcore.losses.Loss, received {identifier!r}"
    )
