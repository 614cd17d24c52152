"""Plumbing shared by the kernel families: the two compile targets, constants, block reductions.

The math of every family is written ONCE as plain Python: "leaf" helpers (marked with
:func:`leaf`) and the kernel bodies that loop around them. Each is compiled for a target by
rebinding its globals (:func:`cpu_kernel`, :func:`cuda_kernel`): every leaf it calls is
replaced by that leaf's flavour for the target (an inlined ``numba.njit`` function on the
CPU, a ``numba.cuda`` device function on the GPU), ``cuda`` by ``numba.cuda``, and
``CUDA_FLAVOUR`` by True in the CUDA flavour (numba freezes globals as constants, so
``if CUDA_FLAVOUR:`` branches compile away). So a kernel module never keeps module globals
that must be bound late.

numba.cuda is imported lazily (:func:`load_cuda`): the CPU backend must work where
numba-cuda is not installed, and nothing may compile for CUDA at import.
"""

from __future__ import annotations

import contextlib
import math
import threading
import types
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

import numba
import numpy as np

if TYPE_CHECKING:
    from .spec import KernelSpec

#: Activation name -> integer code passed into the kernels (a runtime branch is cheaper
#: than one compiled kernel per activation, and keeps compile time down).
ACT_CODES = {"linear": 0, "relu": 1, "sigmoid": 2, "tanh": 3}

#: Options of every CPU kernel. ``cache=True``: compiled code is written beside the module
#: and reloaded by later processes; ``error_model='numpy'``: no Python-style division checks.
#: Serial (no ``parallel=True``): parallel launches cost more than these kernels take and
#: fight OpenBLAS for the cores (benchmarks/results/kernel_notes.md); serial kernels are also
#: bit-deterministic whatever the thread count.
NJIT_OPTS: dict[str, Any] = dict(cache=True, nogil=True, error_model="numpy")

#: Largest CUDA block used by the reduction kernels (the static shared-memory size).
MAX_TPB = 256
#: Most blocks a reduction kernel launches (the size of its scratch buffer of partial sums):
#: enough waves of blocks that the last one does not run on a mostly idle GPU.
MAX_BLOCKS = 8192
#: Most blocks of the one-block-per-row kernels (softmax; rows grid-strided beyond it).
MAX_ROW_BLOCKS = 1024

#: float32 0 and 1 for the shared math: numba types the literals ``0.0``/``1.0`` as float64, so
#: ``x + 1.0`` on a float32 ``x`` is float64 arithmetic. ``x + F1`` stays float32 for float32
#: ``x`` and is exactly ``x + 1.0`` for float64 ``x``. (Frozen as constants when compiled.)
F0 = np.float32(0.0)
F1 = np.float32(1.0)
#: True only inside the CUDA flavour of a kernel or leaf (see the module docstring).
CUDA_FLAVOUR = False

cuda: Any = None  # numba.cuda inside the CUDA flavours; None in the plain functions

_LEAVES: set[Callable] = set()
_flavours: dict[tuple[str, Callable], Callable] = {}
_lock = threading.RLock()


def leaf(fn: Callable) -> Callable:
    """Mark ``fn`` as shared math: kernels calling it get its flavour for their target."""
    _LEAVES.add(fn)
    return fn


def _rebind(fn: Callable, target: str) -> Callable:
    """A copy of ``fn`` whose globals name the ``target`` flavours of the leaves it calls."""
    g = dict(fn.__globals__)
    for name in fn.__code__.co_names:
        obj = g.get(name)
        if callable(obj) and obj in _LEAVES:
            g[name] = flavour(obj, target)
    if target == "cuda":
        g["cuda"] = load_cuda()
        g["CUDA_FLAVOUR"] = True
        if getattr(numba.config, "ENABLE_CUDASIM", 0):
            # Simulated, a helper is plain Python and ``math.exp`` returns a Python float;
            # NumPy's weak-scalar rule would make ``F1 + e`` float32 even for float64 data.
            g.update(F0=0.0, F1=1.0)
    return types.FunctionType(fn.__code__, g, fn.__name__, fn.__defaults__, fn.__closure__)


def flavour(fn: Callable, target: str) -> Callable:
    """The compiled ``target`` ("cpu" or "cuda") flavour of leaf ``fn`` (built once)."""
    with _lock:
        got = _flavours.get((target, fn))
        if got is None:
            py = _rebind(fn, target)
            if target == "cpu":
                got = numba.njit(inline="always", **NJIT_OPTS)(py)
            else:
                got = load_cuda().jit(device=True)(py)  # NVVM inlines leaf helpers this small
            _flavours[(target, fn)] = got
        return got


def cpu_kernel(fn: Callable) -> Any:
    """The njit dispatcher of kernel body ``fn`` (compiled later, for explicit signatures)."""
    return numba.njit(**NJIT_OPTS)(_rebind(fn, "cpu"))


def compile_cpu(specs: Iterable[KernelSpec]) -> dict[str, Any]:
    """Name -> njit dispatcher of each spec's CPU flavour, compiled for every dtype key of
    the spec (or loaded from numba's cache); any other argument type then fails instead of
    compiling inside a training step."""
    table: dict[str, Any] = {}
    for spec in specs:
        disp = cpu_kernel(spec.cpu)
        for key in spec.keys():
            disp.compile(spec.signature("cpu", key))
        disp.disable_compile()
        table[spec.name] = disp
    return table


def cuda_kernel(fn: Callable) -> Callable:
    """Kernel body ``fn`` bound for ``numba.cuda.jit`` / ``compile_ptx`` (not compiled yet)."""
    with _lock:
        return _rebind(fn, "cuda")


@contextlib.contextmanager
def device_functions_for(cc: tuple[int, int]) -> Iterator[None]:
    """Within this block, numba-cuda compiles device functions for compute capability ``cc``.

    numba-cuda compiles a device function (a leaf's CUDA flavour) the first time a kernel
    being compiled calls it, for the compute capability of the *current device*
    (``CUDADispatcher.compile_device`` asks the driver). Without a GPU that fails with "CUDA
    driver library cannot be found", although compiling needs no GPU; with a GPU it would
    give the device's cc to a kernel compiled for another. Here the question gets ``cc``.
    The device function keeps its LLVM IR per argument types, linked into each kernel and
    turned into PTX for the kernel's own ``cc``.
    """
    from numba.cuda import dispatcher

    fake = types.SimpleNamespace(compute_capability=tuple(cc))
    with _lock:  # one compile at a time changes the module's name
        asked = dispatcher.get_current_device
        dispatcher.get_current_device = lambda: fake
        try:
            yield
        finally:
            dispatcher.get_current_device = asked


def compile_ptx(spec: KernelSpec, key: tuple[str, ...], cc: tuple[int, int]) -> str:
    """PTX of ``spec``'s CUDA flavour for dtype ``key`` and compute capability ``cc``: the
    raw launcher's compile (numba-cuda's NVVM, explicit signature), which needs no GPU."""
    cuda_mod = load_cuda()
    with device_functions_for(cc):
        ptx, _ = cuda_mod.compile_ptx(cuda_kernel(spec.cuda), spec.signature("cuda", key), cc=cc)
    return ptx


def numpy_compat_for_numba_cuda() -> None:
    """Let numba-cuda 0.30 run with NumPy >= 2.5.

    numba-cuda registers an overload for ``np.row_stack`` whenever NumPy >= 2.0, and NumPy 2.5
    removed that alias of ``np.vstack``, so the first kernel launch fails with
    ``AttributeError: module 'numpy' has no attribute 'row_stack'`` (NVIDIA/numba-cuda#907,
    closed unfixed: numba-cuda is in maintenance mode). Restoring the alias is exactly what
    NumPy < 2.5 had. Remove once numba-cuda guards the overload.
    """
    if not hasattr(np, "row_stack"):
        np.row_stack = np.vstack


def load_cuda() -> Any:
    """Import numba.cuda (only when a CUDA backend is actually created)."""
    numpy_compat_for_numba_cuda()
    from numba import cuda as numba_cuda

    return numba_cuda


# ---------------------------------------------------------------- shared scalar math
@leaf
def sigmoid_and_exp(x):
    """``(sigmoid(x), exp(-|x|))`` without overflow: exp only ever sees ``-|x|``. In x's
    dtype (F1, not 1.0: float32 stays float32)."""
    e = math.exp(-abs(x))
    return (F1 / (F1 + e) if x >= 0 else e / (F1 + e)), e


# ---------------------------------------------------------------- CUDA block reductions
# ``sh`` is a float64 shared array of at least blockDim.x elements; blockDim.x is a power
# of two. The tree order is fixed, so results are reproducible run to run.
@leaf
def block_reduce(sh, v, take_max):
    """The block's sum of ``v`` (``take_max`` 0) or its maximum (1), on every thread."""
    tid = cuda.threadIdx.x
    sh[tid] = v
    cuda.syncthreads()
    s = cuda.blockDim.x // 2
    while s > 0:
        if tid < s:
            if take_max == 0:
                sh[tid] += sh[tid + s]
            elif sh[tid + s] > sh[tid]:
                sh[tid] = sh[tid + s]
        cuda.syncthreads()
        s //= 2
    r = sh[0]
    cuda.syncthreads()  # sh is reused right after
    return r


@leaf
def finish_mean(sh, flag, acc, partial, counter, loss, scale):
    """Grid-wide ``loss[0] = scale * sum(acc of every block)`` in ONE launch, deterministic.

    Each block stores its partial sum; the last block to finish (atomic ticket) adds the
    partials in a fixed order and resets the ticket counter for the next launch (a second
    launch for the reduction would cost more than the work at MNIST sizes).
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
        s = block_reduce(sh, s, 0)
        if tid == 0:
            loss[0] = s * scale
            counter[0] = 0


def pow2_at_least(n: int, lo: int, hi: int) -> int:
    """Smallest power of two >= n, clamped to [lo, hi] (lo and hi powers of two)."""
    p = lo
    while p < n and p < hi:
        p *= 2
    return p


__all__ = [
    "ACT_CODES",
    "F0",
    "F1",
    "CUDA_FLAVOUR",
    "NJIT_OPTS",
    "MAX_TPB",
    "MAX_BLOCKS",
    "MAX_ROW_BLOCKS",
    "leaf",
    "flavour",
    "cpu_kernel",
    "compile_cpu",
    "cuda_kernel",
    "compile_ptx",
    "device_functions_for",
    "load_cuda",
    "numpy_compat_for_numba_cuda",
    "sigmoid_and_exp",
    "block_reduce",
    "finish_mean",
    "pow2_at_least",
]
