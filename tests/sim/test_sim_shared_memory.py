"""The simulator gives every thread of a block ONE array per ``cuda.shared.array`` call.

numba's simulator looks a static shared array up by source line with an unlocked
check-then-store; a thread switch between the two gave threads of one block different arrays
(netcore/kernels/_sim_shared.py). These tests force that interleaving instead of waiting
for the scheduler to produce it.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest

from netcore.backend.cuda import simulator_enabled

pytestmark = pytest.mark.skipif(
    not simulator_enabled(),
    reason="simulator tests: run in a subprocess by tests/sim/test_sim_kernels.py",
)


class _SizeThatWaits:
    """An array length whose conversion (inside ``np.empty``, between the allocator's lookup
    and its store) waits until ``parties`` threads are converting it, or ``patience`` s."""

    def __init__(self, n: int, parties: int, patience: float = 0.5) -> None:
        self.n, self.parties, self.patience = n, parties, patience
        self.arrived = 0
        self.cond = threading.Condition()

    def __index__(self) -> int:
        with self.cond:
            self.arrived += 1
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.arrived >= self.parties, timeout=self.patience)
        return self.n


def _allocate_from_threads(shared: Any, size: Any, nthreads: int) -> list[Any]:
    got: list[Any] = [None] * nthreads

    def body(k: int) -> None:
        got[k] = shared.array(size, np.float64)  # one source line: one shared array

    threads = [threading.Thread(target=body, args=(k,)) for k in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got


def test_threads_in_the_allocators_window_get_one_shared_array() -> None:
    from numba.cuda.simulator.kernelapi import FakeCUDAShared

    from netcore.backend.cuda import CudaBackend

    CudaBackend(seed=0)  # installs the allocator
    shared = FakeCUDAShared(0)
    start = time.perf_counter()
    got = _allocate_from_threads(shared, _SizeThatWaits(8, parties=2), 2)
    assert got[0] is got[1], "two threads of one launch got different shared arrays"
    assert got[0].shape == (8,) and got[0].dtype == np.float64
    assert time.perf_counter() - start < 5


def test_distinct_lines_get_distinct_shared_arrays_and_dynamic_memory_is_numbas() -> None:
    from numba import float64, int32
    from numba.cuda.simulator.kernelapi import FakeCUDAShared

    from netcore.backend.cuda import CudaBackend

    CudaBackend(seed=0)
    shared = FakeCUDAShared(64)
    a = shared.array(4, float64)
    b = shared.array(4, float64)
    assert a is not b and a.dtype == np.float64
    assert shared.array(2, int32).dtype == np.int32
    dyn1, dyn2 = shared.array(0, float64), shared.array(0, float64)
    assert dyn1.size == 8 and np.shares_memory(dyn1, dyn2)
