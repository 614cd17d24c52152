"""Plumbing shared by the kernel families: activation codes, the two jit targets, block reductions.

The math of every family is written ONCE as plain Python functions (scalar or per-index
"leaf" helpers that call nothing else). :func:`cpu_inline` turns one into an inlined
``numba.njit`` function for the CPU kernels; :func:`cuda_device` turns the same function
into a ``numba.cuda`` device function for the GPU kernels (or a simulator device function
under ``NUMBA_ENABLE_CUDASIM=1``). Only the loops around them differ per target.

numba.cuda is imported lazily (:func:`load_cuda`): the CPU backend must work where
numba-cuda is not installed, and nothing may compile for CUDA at import.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numba
import numpy as np

#: Activation name -> integer code passed into the kernels (a runtime branch is cheaper
#: than one compiled kernel per activation, and keeps compile time down).
ACT_CODES = {"linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3}

#: Options of every CPU kernel. ``cache=True``: compiled code is written beside the module
#: and reloaded by later processes; ``error_model='numpy'``: no Python-style division checks.
NJIT_OPTS: dict[str, Any] = dict(cache=True, nogil=True, error_model="numpy")

#: Largest CUDA block used by the reduction kernels (the static shared-memory size).
MAX_TPB = 256
#: Most blocks a reduction kernel launches (the size of its scratch buffer of partial sums).
#: 8192: an element-wise reduction over 33 M elements then runs ~10 waves of blocks instead
#: of 1.3 (1024 blocks, ~790 resident on an H100: the last third ran on a quarter-full GPU).
MAX_BLOCKS = 8192
#: Most blocks of the one-block-per-row kernels (softmax; rows grid-strided beyond it). One
#: block per row up to MAX_BLOCKS measured no faster on an H100 (kernel_notes.md, round 2).
MAX_ROW_BLOCKS = 1024

#: float32 0 and 1 for the shared math: numba types the literals ``0.0``/``1.0`` as float64, so
#: ``x + 1.0`` on a float32 ``x`` is float64 arithmetic. ``x + F1`` stays float32 for float32
#: ``x`` and is exactly ``x + 1.0`` for float64 ``x``. (Frozen as constants when compiled.)
F0 = np.float32(0.0)
F1 = np.float32(1.0)
#: False for the CPU flavour of a shared helper, True in its CUDA flavour (see cuda_device).
ON_GPU = False

cuda: Any = None  # numba.cuda once load_cuda() ran; a module global so the simulator can swap it


def configure_cpu_threads() -> None:
    """Pick numba's threading layer for the parallel CPU kernels (before their first launch).

    'workqueue' (numba's own simple pool) unless the user chose one via
    NUMBA_THREADING_LAYER: with the OpenMP layer, numba's spinning OpenMP workers and
    OpenBLAS's threads fight for the 2 cores right after a matmul (17x slowdowns measured);
    workqueue threads sleep between parallel regions. Measurements in netcore/backend/cpu.py.
    """
    if "NUMBA_THREADING_LAYER" not in os.environ and numba.config.THREADING_LAYER == "default":
        numba.config.THREADING_LAYER = "workqueue"


def cpu_inline(fn: Callable) -> Callable:
    """The CPU flavour of a shared leaf helper (inlined into the calling njit kernel)."""
    return numba.njit(inline="always", **NJIT_OPTS)(fn)


def cuda_device(fn: Callable) -> Callable:
    """The CUDA flavour of the same helper (a device function; plain Python in the simulator).

    The flavour sees its own copy of the module globals with ``ON_GPU = True`` (numba freezes
    globals as constants, so ``if not ON_GPU:`` branches are compiled away on the GPU and
    the CPU keeps them) and, in the simulator, Python floats for ``F0``/``F1``: simulated, the
    helper is plain Python, ``math.exp`` returns a Python float, and NumPy's weak-scalar rule
    would make ``F1 + e`` float32 even for float64 data (the literals behaved like floats).
    """
    import types

    names = fn.__code__.co_names
    if "ON_GPU" in names or "F0" in names or "F1" in names:
        g = dict(fn.__globals__, ON_GPU=True)
        if numba.config.ENABLE_CUDASIM:
            g.update(F0=0.0, F1=1.0)
        fn = types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)
    return load_cuda().jit(device=True)(fn)  # NVVM inlines leaf helpers this small


def numpy_compat_for_numba_cuda() -> None:
    """Let numba-cuda 0.30 run with NumPy >= 2.5.

    numba-cuda registers an overload for ``np.row_stack`` whenever NumPy >= 2.0, and NumPy 2.5
    removed that alias of ``np.vstack``, so the first kernel launch fails with
    ``AttributeError: module 'numpy' has no attribute 'row_stack'`` (NVIDIA/numba-cuda#907,
    closed unfixed: numba-cuda is in maintenance mode). Restoring the alias is exactly what
    NumPy < 2.5 had. Remove once numba-cuda guards the overload.
    """
    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack  # type: ignore[attr-defined]


def load_cuda() -> Any:
    """Import numba.cuda (only when a CUDA backend is actually created)."""
    global cuda, block_sum_d, block_max_d, finish_mean_d
    if cuda is None:
        numpy_compat_for_numba_cuda()
        from numba import cuda as _cuda

        cuda = _cuda
        block_sum_d = _cuda.jit(device=True)(_block_sum)
        block_max_d = _cuda.jit(device=True)(_block_max)
        finish_mean_d = _cuda.jit(device=True)(_finish_mean)
    return cuda


# ---------------------------------------------------------------- CUDA block reductions
# ``sh`` is a float64 shared array of at least blockDim.x elements; blockDim.x is a power
# of two. The tree order is fixed, so results are reproducible run to run.
def _block_sum(sh, v):
    tid = cuda.threadIdx.x
    sh[tid] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tid < s:
            sh[tid] += sh[tid + s]
        cuda.syncthreads()
        s //= 2
    r = sh[0]
    cuda.syncthreads()  # sh is reused right after
    return r


def _block_max(sh, v):
    tid = cuda.threadIdx.x
    sh[tid] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tid < s:
            if sh[tid + s] > sh[tid]:
                sh[tid] = sh[tid + s]
        cuda.syncthreads()
        s //= 2
    r = sh[0]
    cuda.syncthreads()
    return r


def _finish_mean(sh, flag, acc, partial, counter, loss, scale):
    """Grid-wide ``loss[0] = scale * sum(acc of every block)`` in ONE launch, deterministic.

    Each block stores its partial sum; the last block to finish (atomic ticket) adds the
    partials in a fixed order and resets the ticket counter for the next launch. Saves the
    second launch a separate reduction would cost (launch overhead dominates at MNIST sizes).
    """
    tid = cuda.threadIdx.x
    nblocks = cuda.gridDim.x
    if tid == 0:
        partial[cuda.blockIdx.x] = acc
        cuda.threadfence()  # partial visible grid-wide before the ticket is taken
        ticket = cuda.atomic.add(counter, 0, 1)
        flag[0] = 1 if ticket == nblocks - 1 else 0
    cuda.syncthreads()
    if flag[0] == 1:
        # Four independent loads per iteration (one dependent load per partial made the last
        # block's sum over thousands of partials a chain of L2 round trips); same order of
        # additions as one at a time.
        s = 0.0
        nt = cuda.blockDim.x
        k = tid
        while k + 3 * nt < nblocks:
            p0 = partial[k]
            p1 = partial[k + nt]
            p2 = partial[k + 2 * nt]
            p3 = partial[k + 3 * nt]
            s += p0
            s += p1
            s += p2
            s += p3
            k += 4 * nt
        while k < nblocks:
            s += partial[k]
            k += nt
        s = block_sum_d(sh, s)  # module global: the device flavour, set by load_cuda()
        if tid == 0:
            loss[0] = s * scale
            counter[0] = 0


block_sum_d: Any = None
block_max_d: Any = None
finish_mean_d: Any = None


def pow2_at_least(n: int, lo: int, hi: int) -> int:
    """Smallest power of two >= n, clamped to [lo, hi] (lo and hi powers of two)."""
    p = lo
    while p < n and p < hi:
        p *= 2
    return p


__all__ = ["ACT_CODES", "F0", "F1", "ON_GPU", "NJIT_OPTS", "MAX_TPB", "MAX_BLOCKS", "MAX_ROW_BLOCKS", "configure_cpu_threads",
           "cpu_inline", "cuda_device", "load_cuda", "pow2_at_least"]
