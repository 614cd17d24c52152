"""Fused kernels: one module per family, each with a CPU ``numba.njit`` and a ``numba.cuda`` kernel.

* :mod:`.bias_act` -- bias + linear/relu/sigmoid/tanh, forward and backward (with ``db``).
* :mod:`.softmax_xent` -- softmax + categorical cross-entropy from logits (one-hot or labels).
* :mod:`.sigmoid_bce` -- sigmoid + binary cross-entropy from logits.
* :mod:`.optimizers` -- SGD (momentum, Nesterov), Adam, RMSprop (momentum), Adagrad.

The math of each family is written once as plain-Python leaf helpers compiled for both
targets (see :mod:`._common`); the NumPy oracle stays in :class:`netcore.backend.base.Backend`.
Nothing compiles at import: :func:`cpu_kernels` compiles the CPU kernels for their explicit
signatures (or loads them from numba's on-disk cache) when a CPU backend is created, and the
CUDA launcher (:mod:`._launch`) compiles a kernel for a dtype the first time it runs.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

#: Which CPU kernels compile with ``parallel=True`` (their ``prange`` loops then split over
#: threads). All serial, by measurement on the 2-core dev machine (numbers in
#: netcore/backend/cpu.py): parallel launches cost 5-40 us each, more than these kernels
#: take, and fight OpenBLAS for the cores right after a matmul. NOTE: numba's cache key
#: ignores this flag; delete netcore/kernels/__pycache__/*.nb[ci] after changing it.
CPU_PARALLEL: dict[str, bool] = {
    "bias_act": False,
    "softmax_xent": False,
    "sigmoid_bce": False,
    "optimizers": False,
}

_lock = threading.Lock()
_cpu: dict[str, Any] | None = None
#: Seconds the last :func:`cpu_kernels` call spent compiling or loading from the cache.
cpu_compile_seconds: float = 0.0


def cpu_kernels() -> dict[str, Any]:
    """Name -> compiled njit dispatcher, for float32 and float64 (compiled once per process)."""
    global _cpu, cpu_compile_seconds
    with _lock:
        if _cpu is None:
            from . import bias_act, optimizers, sigmoid_bce, softmax_xent
            from ._common import configure_cpu_threads

            configure_cpu_threads()
            t0 = time.perf_counter()
            table: dict[str, Any] = {}
            for family, mod in (("bias_act", bias_act), ("softmax_xent", softmax_xent),
                                ("sigmoid_bce", sigmoid_bce), ("optimizers", optimizers)):
                for name, (disp, sigs) in mod.make_cpu_kernels(CPU_PARALLEL[family]).items():
                    for sig in sigs:
                        disp.compile(sig)  # loads from the cache=True files when present
                    disp.disable_compile()  # any other type is a bug: fail, don't compile
                    table[name] = disp
            cpu_compile_seconds = time.perf_counter() - t0
            # Said out loud: a cold numba cache costs ~5-15 s here, once per machine.
            logging.getLogger("netcore").info(
                "netcore: CPU kernels ready in %.1f s (%s)", cpu_compile_seconds,
                "compiled and cached" if cpu_compile_seconds > 2 else "loaded from numba's cache")
            _cpu = table
        return _cpu


__all__ = ["cpu_kernels", "CPU_PARALLEL"]
