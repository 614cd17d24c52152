"""One ``cuda.shared.array`` per simulated block: a thread-safe allocator for numba's simulator.

Under ``NUMBA_ENABLE_CUDASIM=1`` numba runs every CUDA thread of a block as a Python thread and
hands out static shared arrays from a per-launch dict keyed by the source line of the
``cuda.shared.array`` call (``FakeCUDAShared.array`` in
``numba/cuda/simulator/kernelapi.py``, numba-cuda 0.30). The lookup is check-then-store
without a lock::

    res = self._allocations.get(caller)
    if res is None:
        res = np.empty(shape, dtype)
        self._allocations[caller] = res

When the interpreter switches threads between the ``get`` and the store (a forced switch at
the end of a switch interval: the CUDA backend shortens it to 0.1 ms under the simulator),
two threads of the launch's first block each store their own fresh, uninitialised array. The
block's threads then no longer share memory: a tree reduction adds garbage (np.empty) into
``sh[0]``, and the ``flag`` of the last-block finish is read from an array thread 0 never
wrote. That is the intermittent failure of the simulator tests (a wrong softmax/BCE loss, a
wrong bias gradient, a math range error on a garbage row maximum, an update refused after a
garbage gradient). On a GPU a ``__shared__`` array is one allocation per block by
construction, so the kernels are right there; the defect is the simulator's alone.

:func:`make_shared_arrays_per_block` replaces that method with the same lookup done under a
lock, so every thread of a launch gets the first array stored for its line, as on a GPU. Static
allocations only: dynamic shared memory (``shape == 0``) is one buffer made before the threads
start and stays with numba's code. The caller's line is read from its frame (the key numba
takes from ``traceback.extract_stack``, without formatting the whole stack on every call).
"""

from __future__ import annotations

import sys
import threading
from typing import Any

import numpy as np

_lock = threading.Lock()


def _shared_array(self: Any, shape: Any, dtype: Any, alignment: Any = None) -> Any:
    """``cuda.shared.array`` in the simulator: one array per (launch, source line)."""
    if shape == 0 or alignment is not None:  # dynamic shared memory, or numba's own refusal
        return _numba_shared_array(self, shape, dtype, alignment)
    from numba.cuda.simulator import kernelapi

    if isinstance(dtype, kernelapi.types.Type):
        dtype = kernelapi.numpy_support.as_dtype(dtype)
    caller = sys._getframe(1)
    key = (caller.f_code.co_filename, caller.f_lineno)
    with _lock:  # the lookup and the store are one step for every thread of the launch
        res = self._allocations.get(key)
        if res is None:
            res = self._allocations[key] = np.empty(shape, dtype)  # uninitialised, as on a GPU
    return res


_numba_shared_array: Any = None


def make_shared_arrays_per_block() -> bool:
    """Install the locked allocator on numba's simulator (once per process; idempotent).

    Returns True when it is in place. False where the simulator's shared-array class no longer
    has the per-launch ``_allocations`` dict this relies on (a numba-cuda that changed it):
    it is then left alone.
    """
    global _numba_shared_array
    from numba.cuda.simulator import kernelapi

    cls = kernelapi.FakeCUDAShared
    with _lock:
        if cls.array is _shared_array:
            return True
        if not isinstance(getattr(cls(0), "_allocations", None), dict):
            return False
        _numba_shared_array = cls.array
        cls.array = _shared_array  # type: ignore[method-assign]
        return True


__all__ = ["make_shared_arrays_per_block"]
