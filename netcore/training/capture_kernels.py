"""The captured step's kernels launched on the model's backend, and the route that makes the
backend's optimizer step read its per-step scalar on the device while a graph is captured.

The kernels are :mod:`netcore.kernels.captured`'s; :class:`StepKernels` calls their CPU
flavours directly (the CPU stand-in that tests the captured step) or launches the CUDA ones
through one launcher set per backend (numba's simulator included).
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..kernels import SPECS as FUSED_SPECS
from ..kernels import captured as step_kernels
from ..kernels.optimizers import CHECK, WRITE

#: Each CUDA backend's launcher set of the step kernels: compiled once per backend, not
#: once per ``fit`` (a weak key: the set holds no reference back to its backend).
_CUDA_SETS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


class StepKernels:
    """Launches the step kernels on the model's backend: the CPU flavours called directly,
    the CUDA ones through the backend's launcher set (numba's simulator included)."""

    def __init__(self, backend: Any) -> None:
        self.be = backend
        self.cuda = backend.name == "cuda"
        if self.cuda:
            launchers = _CUDA_SETS.get(backend)
            if launchers is None:
                launchers = _CUDA_SETS[backend] = step_kernels.cuda_step_kernels(backend.simulated)
            self._set = launchers
        else:
            self._cpu = step_kernels.cpu_step_kernels()

    def prepare(self) -> None:
        """Compile the CUDA launchers that only the graph runs: nothing may compile while a
        graph is captured. (The ``_at`` updates compile in the warm-up step, which runs them.)"""
        if self.cuda:
            self._set.get("gather_rows", step_kernels.UNTYPED_KEY)
            self._set.get("record_step", step_kernels.UNTYPED_KEY)

    def gather(self, counter: Any, order: Any, src: Any, dst: Any) -> None:
        s, d = step_kernels.word_rows(src), step_kernels.word_rows(dst)
        if self.cuda:
            grid, block = self.be._grid1(d.size)
            self._set.get("gather_rows", step_kernels.UNTYPED_KEY)(
                grid, block, counter, order, s, d
            )
        else:
            self._cpu["gather_rows"](counter, order, s, d)

    def record(self, counter: Any, row: Any, log: Any) -> None:
        if self.cuda:
            launch = self._set.get("record_step", step_kernels.UNTYPED_KEY)
            launch((1,), (step_kernels.RECORD_THREADS,), counter, row, log)
        else:
            self._cpu["record_step"](counter, row, log)

    def update_at(self, op: str, flag: Any, p: Any, *args: Any) -> None:
        """Backend op ``op``'s optimizer kernel in its ``_at`` form: ``args`` as the backend
        passes them to its kernel (``_update``), the per-step scalar replaced by the table
        and the counter. Run as the backends run an optimizer kernel: CHECK then WRITE
        launches on CUDA, one CHECK | WRITE call on the CPU."""
        spec = step_kernels.PER_STEP_SPECS[op]
        if self.cuda:
            launch = self._set.get(spec.name, p.dtype.name)
            grid, block = self.be._grid1(p.size)
            launch(grid, block, flag, p, *args, CHECK)
            launch(grid, block, flag, p, *args, WRITE)
        else:
            types = spec.params_for("cpu", (p.dtype.name,))[2:-1]
            conv = [a if nd else dt.type(a) for (dt, nd), a in zip(types, args)]
            self._cpu[spec.name](flag, p, *conv, CHECK | WRITE)


@contextlib.contextmanager
def routed_updates(
    backend: Any, kernels: StepKernels, tables: dict[str, Any], counter: Any
) -> Iterator[None]:
    """While capturing, the backend's optimizer kernel call for an op of
    :data:`~netcore.kernels.captured.PER_STEP_SCALARS` reads that scalar from
    ``tables[op][counter]`` (an instance attribute over the class's ``_update``, removed on
    exit); other ops run as they are."""
    eager = backend._update

    def _update(name: str, skip: Any, p: Any, *args: Any) -> None:
        table = tables.get(name)
        if table is None:
            return eager(name, skip, p, *args)
        if skip is None or skip.dtype != np.int32 or skip.ndim != 1:
            raise RuntimeError("a captured optimizer step needs the model's device skip flag")
        names = [q.name for q in FUSED_SPECS[name].params][2:]  # after flag, p
        i = names.index(step_kernels.PER_STEP_SCALARS[name])
        kernels.update_at(name, skip, p, *args[:i], table, counter, *args[i + 1 :])

    backend._update = _update
    try:
        yield
    finally:
        del backend._update


__all__ = ["StepKernels", "routed_updates"]
