"""Kernels of the captured training step: what a CUDA graph needs that a host loop does itself.

A replayed graph runs the same kernels with the same arguments every time, so everything that
changes from step to step must be read on the device. One int32 ``counter`` (the index of the
step in the epoch) drives it:

* ``gather_rows`` -- ``dst[r] = src[order[counter * B + r]]`` for ``r < B``: the step's batch
  copied into a fixed buffer (``B`` = the buffer's rows). Rows are moved as int32 words, so one
  kernel serves float32/float64 inputs, one-hot targets and int32/int64 labels (viewed as
  ``(N, row_bytes / 4)`` int32 arrays).
* ``adam_update_at`` -- Adam's update with its step-dependent rate
  ``alpha_t = lr sqrt(1 - beta_2^t) / (1 - beta_1^t)`` read from ``alphas[counter]`` (a table
  filled on the host once per epoch) instead of a kernel argument frozen into the graph. The
  update itself is :mod:`netcore.kernels.optimizers`' Adam kernel body, called as a function:
  the rule is written once.
* ``record_step`` -- ``log[counter] = row; counter += 1``: the step's loss, metric sums and
  flag (gathered into ``row`` by the graph) kept on the device for the epoch tracker's next
  read, and the counter moved on. It is the graph's last kernel: every kernel before it reads
  the same counter.

These kernels serve no :class:`~netcore.backend.base.Backend` op, so they are declared with
:class:`~.spec.KernelSpec` in this module's own ``SPECS`` (not in :data:`netcore.kernels.SPECS`,
which lists the fused backend ops): :func:`cpu_step_kernels` compiles their CPU flavours and
:func:`cuda_step_kernels` gives a launcher set for the CUDA ones. Their NumPy references are
:func:`gather_rows_reference` and :func:`record_step_reference`; Adam's is the backend's
``adam_update``.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from ._common import CUDA_FLAVOUR, compile_cpu, cuda, leaf
from ._launch import KernelSet
from .optimizers import _adam, thread_range
from .spec import INT, KernelSpec, arr, scalar

# Adam's kernel body becomes shared math here: its CPU/CUDA flavour is called below.
leaf(_adam)


# ---------------------------------------------------------------- kernel bodies (both targets)
def _gather_rows(counter, order, src, dst):
    rows = dst.shape[0]
    width = dst.shape[1]
    base = counter[0] * rows
    start, step = thread_range()
    for i in range(start, rows * width, step):
        r = i // width
        dst[r, i - r * width] = src[order[base + r], i - r * width]


def _adam_update_at(flag, p, g, m, v, alphas, counter, c1, c2, eps, passes):
    _adam(flag, p, g, m, v, alphas[counter[0]], c1, c2, eps, passes)


def _record_step(counter, row, log):
    c = counter[0]
    start, step = thread_range()
    for j in range(start, row.size, step):
        log[c, j] = row[j]
    if CUDA_FLAVOUR:
        cuda.syncthreads()  # one block: every thread has read c before it moves on
    if start == 0:
        counter[0] = c + 1


_COUNTER = arr("counter", type="int32")
SPECS = (
    KernelSpec(
        "gather_rows",
        "",
        (_COUNTER, arr("order", type="int64"), arr("src", 2, "int32"), arr("dst", 2, "int32")),
        cpu=_gather_rows,
        cuda=_gather_rows,
    ),
    KernelSpec(
        "adam_update_at",
        "",
        (
            arr("flag", type="int32"),
            arr("p"),
            arr("g"),
            arr("m"),
            arr("v"),
            arr("alphas"),
            _COUNTER,
            scalar("one_minus_beta_1"),
            scalar("one_minus_beta_2"),
            scalar("epsilon"),
            scalar("passes", INT),
        ),
        cpu=_adam_update_at,
        cuda=_adam_update_at,
    ),
    KernelSpec(
        "record_step",
        "",
        (_COUNTER, arr("row", type="float64"), arr("log", 2, "float64")),
        cpu=_record_step,
        cuda=_record_step,
    ),
)
#: The kernels without a float argument compile for this dtype key only (their types are fixed).
UNTYPED_KEY = "float32"
#: One block of this many threads runs ``record_step`` (its row is a few values long).
RECORD_THREADS = 32

_lock = threading.Lock()
_cpu: dict[str, Any] | None = None


def cpu_step_kernels() -> dict[str, Any]:
    """Name -> compiled njit dispatcher of each step kernel (compiled once per process)."""
    global _cpu
    with _lock:
        if _cpu is None:
            _cpu = compile_cpu(SPECS)
        return _cpu


def cuda_step_kernels(simulated: bool) -> KernelSet:
    """A :class:`~._launch.KernelSet` over these kernels (compiled on first launch)."""
    return KernelSet(simulated, specs=SPECS)


# ---------------------------------------------------------------- NumPy references
def word_rows(a: Any) -> Any:
    """``a`` (C-contiguous, N rows) as an ``(N, row_bytes / 4)`` int32 view: the form
    ``gather_rows`` moves. Works for NumPy and CuPy arrays alike."""
    if not a.flags.c_contiguous:
        raise ValueError("gather_rows needs C-contiguous arrays")
    n = a.shape[0]
    row_bytes = a.itemsize * (a.size // n if n else 1)
    if row_bytes % 4:
        raise ValueError(
            f"gather_rows moves 4-byte words; a row of {a.dtype} x "
            f"{a.shape[1:]} is {row_bytes} bytes"
        )
    return a.reshape(n, -1).view(np.int32).reshape(n, row_bytes // 4)


def gather_rows_reference(
    counter: np.ndarray, order: np.ndarray, src: np.ndarray, dst: np.ndarray
) -> None:
    """``dst[:] = src[order[counter[0] * B:(counter[0] + 1) * B]]`` with ``B = len(dst)``."""
    rows = dst.shape[0]
    c = int(counter[0])
    dst[...] = src[order[c * rows : (c + 1) * rows]]


def record_step_reference(counter: np.ndarray, row: np.ndarray, log: np.ndarray) -> None:
    """``log[counter[0]] = row; counter[0] += 1``."""
    log[int(counter[0])] = row
    counter[0] += 1


__all__ = [
    "SPECS",
    "UNTYPED_KEY",
    "RECORD_THREADS",
    "cpu_step_kernels",
    "cuda_step_kernels",
    "word_rows",
    "gather_rows_reference",
    "record_step_reference",
]
