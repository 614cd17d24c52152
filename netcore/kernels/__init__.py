"""Fused kernels: one module per family, each kernel declared once by a :class:`~.spec.KernelSpec`.

* :mod:`.bias_act` -- bias + linear/relu/sigmoid/tanh, forward and backward (with ``db``).
* :mod:`.softmax_xent` -- softmax + categorical cross-entropy from logits (targets or labels).
* :mod:`.sigmoid_bce` -- sigmoid + binary cross-entropy from logits.
* :mod:`.optimizers` -- SGD (momentum, Nesterov), Adam, RMSprop (momentum), Adagrad.
* :mod:`.conv` -- im2col / col2im (a convolution is then one GEMM).
* :mod:`.pool` -- max and average pooling, forward and backward.
* :mod:`.batchnorm` -- batch normalization statistics, normalization and backward.
* :mod:`.warp` -- the per-sample affine warp of the augmentation layers.

The math of each family is written once as plain-Python leaf helpers compiled for both
targets (see :mod:`._common`); the NumPy oracle stays in :class:`netcore.backend.base.Backend`.
:data:`SPECS` (every kernel by name) and :data:`FUSED_OPS` (the backend ops they serve) are
derived from the families' ``SPECS`` tuples. Nothing compiles at import: :func:`cpu_kernels`
compiles the CPU kernels for their explicit signatures (or loads them from numba's on-disk
cache) when a CPU backend is created, and the CUDA launcher (:mod:`._launch`) compiles a
kernel for a dtype the first time it runs.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from . import batchnorm, bias_act, conv, optimizers, pool, sigmoid_bce, softmax_xent, warp
from ._common import compile_cpu
from .spec import KernelSpec

#: Every fused kernel, by name.
SPECS: dict[str, KernelSpec] = {
    s.name: s
    for mod in (bias_act, softmax_xent, sigmoid_bce, optimizers, conv, pool, batchnorm, warp)
    for s in mod.SPECS
}
#: The :class:`~netcore.backend.base.Backend` ops the kernels fuse, in declaration order.
FUSED_OPS: tuple[str, ...] = tuple(dict.fromkeys(s.op for s in SPECS.values()))

_lock = threading.Lock()
_cpu: dict[str, Any] | None = None
#: Seconds the last :func:`cpu_kernels` call spent compiling or loading from the cache.
cpu_compile_seconds: float = 0.0


def cpu_kernels() -> dict[str, Any]:
    """Name -> compiled njit dispatcher, for float32 and float64 (compiled once per process)."""
    global _cpu, cpu_compile_seconds
    with _lock:
        if _cpu is None:
            t0 = time.perf_counter()
            table = compile_cpu(SPECS.values())
            cpu_compile_seconds = time.perf_counter() - t0
            # Said out loud: a cold numba cache costs ~5-15 s here, once per machine.
            logging.getLogger("netcore").info(
                "netcore: CPU kernels ready in %.1f s (%s)",
                cpu_compile_seconds,
                "compiled and cached" if cpu_compile_seconds > 2 else "loaded from numba's cache",
            )
            _cpu = table
        return _cpu


__all__ = ["SPECS", "FUSED_OPS", "cpu_kernels", "cpu_compile_seconds"]
