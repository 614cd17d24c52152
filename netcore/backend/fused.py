"""What the CPU and CUDA backends share: the guard in front of every fused kernel, the flag
of a skipped or refused update, and the optimizer ops (written once; each backend says only
how it runs a kernel, in :meth:`FusedBackend._update`)."""

from __future__ import annotations

from typing import Any

from ..kernels import FUSED_OPS
from ..kernels.spec import fusable
from .base import Backend


class FusedBackend(Backend):
    """A backend whose ``fused_ops`` run the kernels of :mod:`netcore.kernels`."""

    fused_ops: tuple[str, ...] = FUSED_OPS
    #: Arrays live on the host (NumPy): the CPU kernels' signatures also want them
    #: writeable and C-contiguous.
    host_arrays = True

    def _fusable(self, *arrays: Any) -> bool:
        """May the kernels take ``arrays`` as they are (else the reference runs)?"""
        return fusable(arrays, self.host_arrays)

    def _flat(self, *arrays: Any) -> tuple[Any, ...] | None:
        """1-D views of same-size C-contiguous float tensors (flat buffers pass as they are),
        or None: the reference runs instead."""
        p = arrays[0]
        if getattr(p, "size", 0) == 0 or not hasattr(p, "dtype") or not self._fusable(*arrays):
            return None
        for a in arrays:
            if a.size != p.size or not a.flags.c_contiguous:
                return None
        return tuple(a if a.ndim == 1 else a.reshape(-1) for a in arrays)

    def _update(self, name: str, skip: Any, p: Any, *args: Any) -> None:
        """Run optimizer kernel ``name`` over flat ``p`` (see :mod:`netcore.kernels.optimizers`):
        nothing when ``skip`` is set; nothing but ``skip[0] = NONFINITE_UPDATE`` when a new
        value would be non-finite."""
        raise NotImplementedError

    # ------------------------------------------------------------------ optimizer updates
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
        flat = self._flat(param, grad) if velocity is None else self._flat(param, grad, velocity)
        if flat is None:
            return super().sgd_update(param, grad, velocity, lr, momentum, nesterov, skip)
        vel = flat[2] if velocity is not None else flat[0]  # placeholder when unused
        self._update(
            "sgd_update",
            skip,
            flat[0],
            flat[1],
            vel,
            lr,
            momentum,
            int(bool(nesterov)),
            int(velocity is not None),
        )

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
        flat = self._flat(param, grad, m, v)
        if flat is None:
            return super().adam_update(param, grad, m, v, alpha, beta_1, beta_2, epsilon, skip)
        self._update("adam_update", skip, *flat, alpha, 1 - beta_1, 1 - beta_2, epsilon)

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
        arrays = (param, grad, velocity) + ((momentum_buf,) if momentum_buf is not None else ())
        flat = self._flat(*arrays)
        if flat is None:
            return super().rmsprop_update(
                param, grad, velocity, momentum_buf, lr, rho, momentum, epsilon, skip
            )
        mb = flat[3] if momentum_buf is not None else flat[0]  # placeholder when unused
        self._update(
            "rmsprop_update",
            skip,
            flat[0],
            flat[1],
            flat[2],
            mb,
            lr,
            rho,
            1 - rho,
            momentum,
            epsilon,
            int(momentum_buf is not None),
        )

    def adagrad_update(
        self, param: Any, grad: Any, accumulator: Any, lr: float, epsilon: float, skip: Any = None
    ) -> None:
        flat = self._flat(param, grad, accumulator)
        if flat is None:
            return super().adagrad_update(param, grad, accumulator, lr, epsilon, skip)
        self._update("adagrad_update", skip, *flat, lr, epsilon)


def weights_or_placeholder(
    be: Backend, sample_weight: Any, n: int, like: Any, placeholder: Any
) -> tuple[Any, int] | None:
    """``(w, has_w)`` for a kernel: the (N,) weights in ``like``'s dtype, contiguous, or the
    1-element ``placeholder`` and 0 without weights; None if they have the wrong size."""
    if sample_weight is None:
        return placeholder, 0
    if sample_weight.size != n:
        return None
    w = sample_weight.reshape(-1)
    if w.dtype != like.dtype or not w.flags.c_contiguous:
        w = be.xp.ascontiguousarray(w, dtype=like.dtype)
    return w, 1


__all__ = ["FusedBackend", "weights_or_placeholder"]
