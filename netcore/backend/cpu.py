"""The CPU backend: NumPy arrays, OpenBLAS matrix products, numba.njit fused kernels where they pay."""
from __future__ import annotations

import numpy as np

from .base import Backend


class CPUBackend(Backend):
    """NumPy on the host. Fused CPU kernels (``netcore.kernels``) override ops here."""

    name = "cpu"

    def __init__(self, seed: int | None = None) -> None:
        super().__init__(np, seed)

    def describe(self) -> str:
        return f"cpu (NumPy {np.__version__})"

    def to_numpy(self, x):  # type: ignore[override]
        return np.asarray(x)
