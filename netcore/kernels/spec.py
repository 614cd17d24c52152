"""One declaration per fused kernel: :class:`KernelSpec`.

A spec names the kernel, the :class:`~netcore.backend.base.Backend` op it fuses, its
parameters and the plain-Python bodies of its CPU and CUDA flavours. Everything else is
derived from it: both numba signatures (:meth:`KernelSpec.signature`), the raw CUDA
launcher's argument packing (:meth:`KernelSpec.params_for`), the dtype keys it is compiled
for (:meth:`KernelSpec.keys`), the backends' ``fused_ops`` and the list of kernels the
simulator tests cover (:data:`netcore.kernels.SPECS`).

Parameter types:

* ``FLOAT`` -- an array (or scalar) in the op's float dtype (float32 or float64);
* ``LABELS`` -- an integer label array (int32 or int64: a second dtype key);
* ``INT`` -- a code or flag: ``int64`` on the CPU, ``int32`` on the GPU (32-bit registers);
* ``"float64"``, ``"int32"`` -- that NumPy type on both targets.

Arrays are C-contiguous on the CPU (``[:, ::1]``: numba vectorises the inner loop) and of
any layout on the GPU. A ``cuda_only`` parameter (the scratch of a grid-wide reduction) is
absent from the CPU flavour; both flavours take the others in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numba import from_dtype, types

FLOAT = "float"
LABELS = "labels"
INT = "int"

#: The float dtypes every kernel is compiled for.
FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
LABEL_DTYPES = (np.dtype(np.int32), np.dtype(np.int64))
_INT: dict[str, np.dtype[Any]] = {"cpu": np.dtype(np.int64), "cuda": np.dtype(np.int32)}


@dataclass(frozen=True)
class Param:
    """One kernel parameter: its name, type (see the module docstring) and rank (0: scalar)."""

    name: str
    type: str
    ndim: int = 0
    cuda_only: bool = False


def arr(name: str, ndim: int = 1, type: str = FLOAT, cuda_only: bool = False) -> Param:
    """An array parameter (``type`` defaults to the op's float dtype)."""
    return Param(name, type, ndim, cuda_only)


def scalar(name: str, type: str = FLOAT, cuda_only: bool = False) -> Param:
    """A scalar parameter (``type`` defaults to the op's float dtype)."""
    return Param(name, type, 0, cuda_only)


@dataclass(frozen=True)
class KernelSpec:
    """A fused kernel: name, the backend op it serves, parameters, the two flavours' bodies."""

    name: str
    op: str
    params: tuple[Param, ...]
    cpu: Callable
    cuda: Callable

    @property
    def has_labels(self) -> bool:
        return any(p.type == LABELS for p in self.params)

    def keys(self) -> list[tuple[str, ...]]:
        """The dtype keys it is compiled for: ``(float,)`` or ``(float, labels)``."""
        if self.has_labels:
            return [(f.name, lab.name) for f in FLOATS for lab in LABEL_DTYPES]
        return [(f.name,) for f in FLOATS]

    def params_for(self, target: str, key: tuple[str, ...]) -> list[tuple[np.dtype, int]]:
        """``(dtype, ndim)`` of each parameter of the ``target`` ("cpu"/"cuda") flavour."""
        out = []
        for p in self.params:
            if p.cuda_only and target == "cpu":
                continue
            dt: np.dtype[Any]
            if p.type == FLOAT:
                dt = np.dtype(key[0])
            elif p.type == LABELS:
                dt = np.dtype(key[1])
            elif p.type == INT:
                dt = _INT[target]
            else:
                dt = np.dtype(p.type)
            out.append((dt, p.ndim))
        return out

    def signature(self, target: str, key: tuple[str, ...]) -> Any:
        """The numba signature ``void(...)`` of the ``target`` flavour for dtype ``key``."""
        layout: Any = "C" if target == "cpu" else "A"
        args = [
            types.Array(from_dtype(dt), nd, layout) if nd else from_dtype(dt)
            for dt, nd in self.params_for(target, key)
        ]
        return types.void(*args)


def fusable(arrays: tuple[Any, ...], host: bool) -> bool:
    """Can the fused kernels take these arrays as they are? All of one float dtype of
    :data:`FLOATS`; on the host (``host``) also writeable C-contiguous NumPy arrays, exactly
    what the compiled CPU signatures accept (numba types read-only arrays differently)."""
    dt = arrays[0].dtype
    if dt not in FLOATS:
        return False
    for a in arrays:  # a plain loop: no generator per call on the hot path
        if a.dtype != dt:
            return False
        if host and (
            not isinstance(a, np.ndarray) or not a.flags.c_contiguous or not a.flags.writeable
        ):
            return False
    return True


__all__ = [
    "FLOAT",
    "LABELS",
    "INT",
    "FLOATS",
    "LABEL_DTYPES",
    "Param",
    "KernelSpec",
    "arr",
    "scalar",
    "fusable",
]
