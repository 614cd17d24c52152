"""The backend shim: every array op the layers, losses and optimizers call.

Each op is written once here against ``self.xp`` (NumPy or CuPy). This is also the
reference implementation (the oracle the fused kernels are tested against). A backend
subclass overrides only the ops it fuses, keeping the exact signature (``tests`` check it).

Conventions
-----------
* ``out=`` arguments receive the result when given (no reallocation on the hot path).
* Scalars that must not leave the device (the loss) are returned as 0-d arrays.
* ``skip`` is a 1-element int32 array (the step's flag) or ``None``: optimizer updates do
  nothing when ``skip[0] != 0``. :meth:`Backend.mark_nonfinite` sets it to
  ``NONFINITE_LOSS`` when a loss turned NaN/inf, so the weights of the last good step
  survive without a host synchronisation per step; an update that would write a NaN or inf
  writes nothing and sets it to ``NONFINITE_UPDATE``. The trainer reads the flag with the
  losses and names the cause.

Why this module is a little over 400 lines: it is the NumPy reference of every op, the
oracle the kernels are tested against; one contract reads best in one file (thinc's
``Ops`` does the same).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from .conv_ops import ConvOps
from .warp_ops import WarpOps

ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh")
_EPS = 1e-7  # Keras' clipping epsilon for losses on probabilities
#: Values of the one-element ``skip`` flag (int32). 0: this step may update the weights.
NONFINITE_LOSS = 1  #: the loss was NaN or inf (set by :meth:`Backend.mark_nonfinite`)
NONFINITE_UPDATE = 2  #: the update itself would have written a NaN or inf (nothing was written)


def _quiet(fn: Callable) -> Callable:
    """Run ``fn`` without NumPy floating-point warnings: an overflow on the way to a refused
    update is reported by the flag, not as a RuntimeWarning."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        import numpy  # the host library: its error state governs NumPy arrays only

        with numpy.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return fn(*args, **kwargs)

    return wrapper


class Backend(ConvOps, WarpOps):
    """Base backend: array moves, RNG, and the reference implementation of every op (the
    convolutional layers' ops in :class:`~netcore.backend.conv_ops.ConvOps`, the warp in
    :class:`~netcore.backend.warp_ops.WarpOps`)."""

    name: str = "base"
    simulated: bool = False
    host_reads_are_cheap: bool = False  # host reads of device scalars cost no sync (CPU)
    #: Names of the ops this backend replaces with fused kernels (for display and tests).
    fused_ops: tuple[str, ...] = ()

    def __init__(self, xp: Any, seed: int | None = None) -> None:
        self.xp = xp
        self.seed(seed)

    # ------------------------------------------------------------------ description
    def __repr__(self) -> str:
        return f"<netcore backend {self.name!r}{' (simulated)' if self.simulated else ''}>"

    def describe(self) -> str:
        """One line saying what this backend runs on."""
        return self.name

    # ------------------------------------------------------------------ arrays and RNG
    def seed(self, seed: int | None) -> None:
        """(Re)seed this backend's device-side generator (used for dropout masks)."""
        self.rng = self.xp.random.default_rng(seed)

    def asarray(self, x: Any, dtype: Any = None) -> Any:
        """Move ``x`` to this backend's device (no copy when it is already there)."""
        return self.xp.asarray(x, dtype=dtype)

    def to_numpy(self, x: Any) -> Any:
        """Return ``x`` as a NumPy array on the host."""
        import numpy  # host arrays are NumPy by definition

        return numpy.asarray(x)

    def synchronize(self) -> None:
        """Wait for queued device work (a no-op on the CPU)."""

    def fits_on_device(self, nbytes: int) -> bool:
        """May a data set of ``nbytes`` live on the device for a whole ``fit``? (host: always)"""
        return True

    def uniform(self, shape: tuple[int, ...], dtype: Any) -> Any:
        """Uniform [0, 1) samples on the device, from this backend's generator."""
        return self.rng.random(shape, dtype=dtype)

    # ------------------------------------------------------------------ linear algebra
    def matmul(
        self, a: Any, b: Any, out: Any = None, transpose_a: bool = False, transpose_b: bool = False
    ) -> Any:
        """``op(a) @ op(b)`` where ``op`` transposes when asked (BLAS does it without a copy)."""
        if transpose_a:
            a = a.T
        if transpose_b:
            b = b.T
        return self.xp.matmul(a, b, out=out)

    # ------------------------------------------------------------------ activations
    def bias_act(self, z: Any, b: Any, activation: str, out: Any = None) -> Any:
        """``y = act(z + b)`` (``b`` broadcast over rows; ``None`` for no bias).

        ``out`` may be ``z`` itself (in place). ``activation`` is one of ``ACTIVATIONS``.
        """
        xp = self.xp
        y = (
            xp.add(z, b, out=out)
            if b is not None
            else (z if out is None or out is z else _copy(xp, z, out))
        )
        if activation == "linear":
            return y
        if activation == "relu":
            return xp.maximum(y, 0, out=y)
        if activation == "sigmoid":
            return _stable_sigmoid(xp, y, out=y)
        if activation == "tanh":
            return xp.tanh(y, out=y)
        raise ValueError(f"activation must be one of {ACTIVATIONS}, received {activation!r}")

    def bias_act_grad(
        self,
        dy: Any,
        y: Any,
        activation: str,
        dz_out: Any = None,
        db_out: Any = None,
        need_db: bool = True,
    ) -> tuple[Any, Any]:
        """Backward of :meth:`bias_act` written in terms of its output ``y``.

        ``dz = dy * act'(y)`` (relu: ``y > 0``; sigmoid: ``y (1 - y)``; tanh: ``1 - y^2``)
        and ``db = sum_rows dz`` (``None`` unless ``need_db``). ``dz_out`` may be ``dy``.
        """
        xp = self.xp
        if activation == "linear":
            dz = dy if dz_out is None or dz_out is dy else _copy(xp, dy, dz_out)
        elif activation == "relu":
            dz = xp.multiply(dy, y > 0, out=dz_out)
        elif activation == "sigmoid":
            dz = xp.multiply(dy, y * (1 - y), out=dz_out)
        elif activation == "tanh":
            dz = xp.multiply(dy, 1 - y * y, out=dz_out)
        else:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, received {activation!r}")
        db = xp.sum(dz, axis=0, out=db_out) if need_db else None
        return dz, db

    def softmax(self, z: Any, out: Any = None) -> Any:
        """Row-wise softmax, stable for any finite logits (max subtracted first)."""
        xp = self.xp
        e = xp.subtract(z, z.max(axis=1, keepdims=True), out=out)
        xp.exp(e, out=e)
        e /= e.sum(axis=1, keepdims=True)
        return e

    def softmax_grad(self, dy: Any, y: Any, out: Any = None) -> Any:
        """Backward of a row-wise softmax ``y``: ``dz = y * (dy - sum_j dy_j y_j)`` (the
        Jacobian-vector product). ``out`` may be ``dy`` (in place)."""
        xp = self.xp
        s = (dy * y).sum(axis=1, keepdims=True)
        dz = xp.subtract(dy, s, out=out)
        dz *= y
        return dz

    def dropout_mask(self, shape: tuple[int, ...], rate: float, dtype: Any, out: Any = None) -> Any:
        """Inverted-dropout mask ``(u >= rate) / (1 - rate)``, ``u ~ U[0, 1)`` from this backend's
        generator: each element is kept with probability ``1 - rate``."""
        xp = self.xp
        mask = xp.greater_equal(self.uniform(shape, dtype), rate, out=out)
        mask *= 1.0 / (1.0 - rate)
        return mask

    # ------------------------------------------------------------------ losses
    # Every loss op returns ``(loss, grad)``: the batch loss as a 0-d array and its gradient.
    # Reduction (Keras 3 "sum_over_batch_size"): per-sample losses ``l_i`` (averaged over
    # the non-batch axes), optionally weighted by ``sample_weight`` ``w`` of shape (N,):
    # ``loss = sum_i w_i l_i / N`` (divided by the batch size, not by the sum of the
    # weights), so the gradient of row ``i`` is scaled by ``w_i``.
    def softmax_xent(
        self, logits: Any, target: Any, grad_out: Any = None, sample_weight: Any = None
    ) -> tuple[Any, Any]:
        """Softmax + categorical cross-entropy from logits.

        ``target`` is ``(N, C)`` class weights per row (one-hot, soft, or rows that do not
        sum to 1) or integer labels ``(N,)``. Per row, with ``p = softmax(z)`` and
        ``T = sum_c t_c``: ``l = -sum_c t_c log p_c = T logsumexp(z) - sum_c t_c z_c`` and
        ``dl/dz = T p - t`` (``p - t`` for labels and one-hot rows).
        """
        xp = self.xp
        n = logits.shape[0]
        shifted = logits - logits.max(axis=1, keepdims=True)
        lse = xp.log(xp.exp(shifted).sum(axis=1, keepdims=True))
        grad = xp.exp(xp.subtract(shifted, lse, out=grad_out), out=grad_out)
        if target.ndim == 1:
            rows = xp.arange(n)
            per_row = lse[:, 0] - shifted[rows, target]
            grad[rows, target] -= 1
        else:
            tsum = target.sum(axis=1, keepdims=True)
            per_row = lse[:, 0] * tsum[:, 0] - (target * shifted).sum(axis=1)
            grad *= tsum
            grad -= target
        return self._reduce(per_row, grad, sample_weight)

    def sigmoid_bce(
        self, logits: Any, target: Any, grad_out: Any = None, sample_weight: Any = None
    ) -> tuple[Any, Any]:
        """Sigmoid + binary cross-entropy from logits, loss and gradient together.

        Elementwise ``l = max(z, 0) - z t + log(1 + exp(-|z|))`` (no overflow, no log(0)),
        averaged over the non-batch axes (Keras: the mean over the last axis); gradient
        ``(sigmoid(z) - t) / C`` per element before the batch reduction.
        """
        xp = self.xp
        elem = xp.maximum(logits, 0) - logits * target + xp.log1p(xp.exp(-xp.abs(logits)))
        grad = _stable_sigmoid(xp, logits, out=grad_out)
        grad -= target
        return self.reduce_loss(elem, grad, sample_weight)

    def binary_crossentropy(
        self, probs: Any, target: Any, grad_out: Any = None, sample_weight: Any = None
    ) -> tuple[Any, Any]:
        """Binary cross-entropy on probabilities, as Keras: ``p`` clipped to
        ``[eps, 1 - eps]`` (``eps = 1e-7``), ``l = -(t log p + (1 - t) log(1 - p))``
        averaged over the non-batch axes; ``dl/dp = (p - t) / (p (1 - p))`` per element."""
        xp = self.xp
        p = xp.clip(probs, _EPS, 1 - _EPS)
        elem = -(target * xp.log(p) + (1 - target) * xp.log(1 - p))
        grad = xp.divide(p - target, p * (1 - p), out=grad_out)
        return self.reduce_loss(elem, grad, sample_weight)

    def categorical_crossentropy(
        self, probs: Any, target: Any, grad_out: Any = None, sample_weight: Any = None
    ) -> tuple[Any, Any]:
        """Categorical cross-entropy on probabilities, as Keras: rows rescaled to
        ``q = p / sum_c p_c`` and clipped to ``[eps, 1 - eps]``; ``l = -sum_c t_c log q_c``
        (``target`` ``(N, C)`` or integer labels ``(N,)``);
        ``dl/dp_j = (sum_c t_c - t_j / q_j) / sum_c p_c``."""
        xp = self.xp
        t = target
        if t.ndim == 1:
            t = xp.zeros_like(probs)
            t[xp.arange(probs.shape[0]), target] = 1
        s = probs.sum(axis=1, keepdims=True)
        q = xp.clip(probs / s, _EPS, 1 - _EPS)
        per_row = -(t * xp.log(q)).sum(axis=1)
        grad = xp.divide(-t, q, out=grad_out)
        grad += t.sum(axis=1, keepdims=True)
        grad /= s
        return self._reduce(per_row, grad, sample_weight)

    def reduce_loss(self, elem: Any, grad: Any, sample_weight: Any = None) -> tuple[Any, Any]:
        """The batch loss of elementwise losses ``elem`` (per-sample means over the non-batch
        axes, then weighted as above) and ``grad`` (the elementwise derivatives, scaled in
        place by ``w_i / size``)."""
        n = elem.shape[0]
        per_row = elem.reshape(n, -1).mean(axis=1)
        grad /= elem.size // n
        return self._reduce(per_row, grad, sample_weight)

    def _reduce(self, per_row: Any, grad: Any, sample_weight: Any) -> tuple[Any, Any]:
        """``sum_i w_i l_i / N`` as a 0-d array and ``grad`` scaled in place by ``w_i / N``."""
        n = per_row.shape[0]
        if sample_weight is not None:
            if getattr(sample_weight, "size", None) != n:
                raise ValueError(
                    f"sample_weight must have one weight per sample, shape ({n},), "
                    f"received shape {getattr(sample_weight, 'shape', type(sample_weight))}"
                )
            w = sample_weight.reshape(n)
            per_row = per_row * w
            grad *= w.reshape((n,) + (1,) * (grad.ndim - 1))
        grad /= n
        return per_row.sum(dtype=per_row.dtype) / per_row.dtype.type(n), grad

    def mark_nonfinite(self, value: Any, flag: Any) -> None:
        """Set ``flag[0] = NONFINITE_LOSS`` if the 0-d ``value`` is NaN or inf, unless a flag
        is already raised (it is sticky: the first reason stays)."""
        xp = self.xp
        bad = xp.logical_not(xp.isfinite(value)).astype(flag.dtype)
        xp.maximum(flag, bad * NONFINITE_LOSS, out=flag)

    # ------------------------------------------------------------------ optimizer updates
    # Each updates ``param`` and its state in place; formulas in netcore/optimizers/. None of
    # them writes a NaN or inf: when any new value (weight or state) would be non-finite,
    # nothing is written and ``skip[0]`` becomes NONFINITE_UPDATE (when a flag is given).
    @_quiet
    def sgd_update(
        self,
        param: Any,
        grad: Any,
        velocity: Any,
        lr: float,
        momentum: float,
        nesterov: bool,
        skip: Any = None,
    ) -> None:
        """Keras 3 SGD: ``v = m v - lr g``; ``w += v`` (Nesterov: ``w += m v - lr g``);
        without momentum (``velocity`` is None) ``w -= lr g``."""
        if _flag_raised(skip):
            return
        if velocity is None:
            self._commit(skip, (param, param - lr * grad))
            return
        vel = velocity * momentum - lr * grad
        new_p = param + (momentum * vel - lr * grad) if nesterov else param + vel
        self._commit(skip, (velocity, vel), (param, new_p))

    @_quiet
    def adam_update(
        self,
        param: Any,
        grad: Any,
        m: Any,
        v: Any,
        alpha: float,
        beta_1: float,
        beta_2: float,
        epsilon: float,
        skip: Any = None,
    ) -> None:
        """Keras 3 Adam step with ``alpha = lr sqrt(1 - b2^t) / (1 - b1^t)`` precomputed:
        ``m += (g - m)(1 - b1)``; ``v += (g^2 - v)(1 - b2)``; ``w -= alpha m / (sqrt(v) + eps)``."""
        if _flag_raised(skip):
            return
        new_m = m + (grad - m) * (1 - beta_1)
        new_v = v + (grad * grad - v) * (1 - beta_2)
        new_p = param - alpha * new_m / (self.xp.sqrt(new_v) + epsilon)
        self._commit(skip, (m, new_m), (v, new_v), (param, new_p))

    @_quiet
    def rmsprop_update(
        self,
        param: Any,
        grad: Any,
        velocity: Any,
        momentum_buf: Any,
        lr: float,
        rho: float,
        momentum: float,
        epsilon: float,
        skip: Any = None,
    ) -> None:
        """Keras 3 RMSprop: ``v = rho v + (1 - rho) g^2``; ``inc = lr g / sqrt(v + eps)``;
        with momentum ``b = momentum b + inc; w -= b``, else ``w -= inc``."""
        if _flag_raised(skip):
            return
        vel = velocity * rho + (1 - rho) * grad * grad
        inc = lr * grad / self.xp.sqrt(vel + epsilon)
        if momentum_buf is not None:
            b = momentum_buf * momentum + inc
            self._commit(skip, (velocity, vel), (momentum_buf, b), (param, param - b))
        else:
            self._commit(skip, (velocity, vel), (param, param - inc))

    @_quiet
    def adagrad_update(
        self, param: Any, grad: Any, accumulator: Any, lr: float, epsilon: float, skip: Any = None
    ) -> None:
        """Keras 3 Adagrad: ``a += g^2``; ``w -= lr g / sqrt(a + eps)``."""
        if _flag_raised(skip):
            return
        acc = accumulator + grad * grad
        new_p = param - lr * grad / self.xp.sqrt(acc + epsilon)
        self._commit(skip, (accumulator, acc), (param, new_p))

    def _commit(self, skip: Any, *pairs: tuple[Any, Any]) -> None:
        """Copy each new value into its array, or, if any of them is not finite, nothing
        (``skip[0] = NONFINITE_UPDATE``)."""
        xp = self.xp
        if not all(bool(xp.isfinite(new).all()) for _, new in pairs):
            if skip is not None:
                skip[...] = NONFINITE_UPDATE
            return
        for dst, new in pairs:
            xp.copyto(dst, new, casting="same_kind")


def _flag_raised(skip: Any) -> bool:
    # Reading one element is free on NumPy; device backends fuse the check into the kernel.
    return skip is not None and bool(skip[0])


def _copy(xp: Any, src: Any, out: Any) -> Any:
    xp.copyto(out, src)
    return out


def _stable_sigmoid(xp: Any, z: Any, out: Any = None) -> Any:
    """``1 / (1 + exp(-z))`` without overflow: exp only ever sees ``-|z|``."""
    e = xp.exp(-xp.abs(z))
    pos = z >= 0
    r = xp.divide(1.0, 1.0 + e, out=out)  # z >= 0 branch, written everywhere first
    neg = e / (1.0 + e)
    xp.copyto(r, neg, where=~pos)
    return r
