"""Kernels of the captured training step: what a CUDA graph needs that a host loop does itself.

A replayed graph runs the same kernels with the same arguments every time, so everything that
changes from step to step must be read on the device. One int32 ``counter`` (the index of the
step in the epoch) drives it:

* ``gather_rows`` -- ``dst[r] = src[order[counter * B + r]]`` for ``r < B``: the step's batch
  copied into a fixed buffer (``B`` = the buffer's rows). Rows are moved as int32 words, so one
  kernel serves float32/float64 inputs, one-hot targets and int32/int64 labels (viewed as
  ``(N, row_bytes / 4)`` int32 arrays).
* ``<op>_at`` -- a backend op's kernel whose host passes a scalar that changes every step
  (:data:`PER_STEP_SCALARS`: each optimizer update's rate, a learning-rate schedule's value at
  the step, and Adam's ``alpha_t = lr_t sqrt(1 - beta_2^t) / (1 - beta_1^t)``) with that
  scalar read from ``<scalar>s[counter]`` (a table filled on the host once per epoch)
  instead of a kernel argument frozen into the graph. It is derived from the op's
  :class:`~.spec.KernelSpec` by :func:`per_step_spec`: the same parameters with the scalar
  replaced by the table and the counter, a body that calls the op's own kernel body. The
  rule and its parameter list are written once, in :mod:`.optimizers`.
* ``record_step`` -- ``log[counter] = row; counter += 1``: the step's loss, metric sums and
  flag (gathered into ``row`` by the graph) kept on the device for the epoch tracker's next
  read, and the counter moved on. It is the graph's last kernel: every kernel before it reads
  the same counter.

These kernels serve no :class:`~netcore.backend.base.Backend` op, so they are declared in this
module's own ``SPECS`` (not in :data:`netcore.kernels.SPECS`, which lists the fused backend
ops): :func:`cpu_step_kernels` compiles their CPU flavours and :func:`cuda_step_kernels` gives
a launcher set for the CUDA ones. Their NumPy references are :func:`gather_rows_reference`,
:func:`record_step_reference` and, for ``<op>_at``, the backend's op at the table's value.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

from . import SPECS as FUSED_SPECS
from ._common import CUDA_FLAVOUR, compile_cpu, cuda, leaf
from ._launch import KernelSet
from .optimizers import thread_range
from .spec import KernelSpec, Param, arr

#: Backend ops whose kernel takes a scalar that the host computes anew every step: the
#: scalar's name. A captured step reads it from a per-epoch table at the step counter. They
#: are the optimizer updates, and the scalar is the step's rate (``Optimizer.rate_at``).
PER_STEP_SCALARS: dict[str, str] = {
    "sgd_update": "lr",
    "adam_update": "alpha",
    "rmsprop_update": "lr",
    "adagrad_update": "lr",
}


# ---------------------------------------------------------------- kernel bodies (both targets)
def _gather_rows(counter, order, src, dst):
    rows = dst.shape[0]
    width = dst.shape[1]
    base = counter[0] * rows
    start, step = thread_range()
    for i in range(start, rows * width, step):
        r = i // width
        dst[r, i - r * width] = src[order[base + r], i - r * width]


def _record_step(counter, row, log):
    c = counter[0]
    start, step = thread_range()
    for j in range(start, row.size, step):
        log[c, j] = row[j]
    if CUDA_FLAVOUR:
        cuda.syncthreads()  # one block: every thread has read c before it moves on
    if start == 0:
        counter[0] = c + 1


def _table_name(scalar: str) -> str:
    return scalar + "s"


def _params_at(params: tuple[Param, ...], scalar: str) -> tuple[Param, ...]:
    """``params`` with scalar ``scalar`` replaced by its table and the step counter."""
    i = [p.name for p in params].index(scalar)
    table = Param(_table_name(scalar), params[i].type, 1, params[i].cuda_only)
    return params[:i] + (table, _COUNTER) + params[i + 1 :]


def _body_at(body: Any, params: tuple[Param, ...], scalar: str, name: str) -> Any:
    """A kernel body taking :func:`_params_at`'s parameters that calls ``body`` with
    ``table[counter[0]]`` in place of ``scalar``. Generated from the parameter names (a
    plain function of fixed arity, which both numba targets compile); ``body`` is marked a
    leaf so each target calls its own flavour."""
    leaf(body)
    names = [p.name for p in params]
    i = names.index(scalar)
    outer = [*names[:i], _table_name(scalar), _COUNTER.name, *names[i + 1 :]]
    inner = [*names[:i], f"{_table_name(scalar)}[{_COUNTER.name}[0]]", *names[i + 1 :]]
    src = f"def {name}({', '.join(outer)}):\n    body({', '.join(inner)})\n"
    # Compiled as if written in this file: numba's on-disk cache locates a function by it.
    namespace: dict[str, Any] = {"body": body, "__name__": __name__}
    exec(compile(src, __file__, "exec"), namespace)
    return namespace[name]


def per_step_spec(spec: KernelSpec, scalar: str) -> KernelSpec:
    """``spec``'s kernel with scalar ``scalar`` read from a table at the step counter."""
    name = spec.name + "_at"
    cpu_params = tuple(p for p in spec.params if not p.cuda_only)
    return KernelSpec(
        name,
        "",
        _params_at(spec.params, scalar),
        cpu=_body_at(spec.cpu, cpu_params, scalar, name),
        cuda=_body_at(spec.cuda, spec.params, scalar, name),
    )


_COUNTER = arr("counter", type="int32")
#: ``<op>_at`` for each op of :data:`PER_STEP_SCALARS`, by op name.
PER_STEP_SPECS: dict[str, KernelSpec] = {
    op: per_step_spec(FUSED_SPECS[op], scalar) for op, scalar in PER_STEP_SCALARS.items()
}
SPECS = (
    KernelSpec(
        "gather_rows",
        "",
        (_COUNTER, arr("order", type="int64"), arr("src", 2, "int32"), arr("dst", 2, "int32")),
        cpu=_gather_rows,
        cuda=_gather_rows,
    ),
    *PER_STEP_SPECS.values(),
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
    "PER_STEP_SCALARS",
    "PER_STEP_SPECS",
    "per_step_spec",
    "UNTYPED_KEY",
    "RECORD_THREADS",
    "cpu_step_kernels",
    "cuda_step_kernels",
    "word_rows",
    "gather_rows_reference",
    "record_step_reference",
]
