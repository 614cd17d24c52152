"""The CUDA backend: CuPy arrays and cuBLAS matrix products; fused numba.cuda kernels.

Under ``NUMBA_ENABLE_CUDASIM=1`` it runs anywhere: arrays are NumPy arrays and the fused
ops run through numba's CUDA simulator (slow; for tests of the whole dispatch path).
"""
from __future__ import annotations

import os
from typing import Any

from ..errors import BackendUnavailableError
from .base import Backend


def simulator_enabled() -> bool:
    """True when numba's CUDA simulator is switched on for this process."""
    return os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")


def probe() -> tuple[bool, str]:
    """Can the CUDA backend run here? Returns ``(ok, reason)``; never raises."""
    if simulator_enabled():
        try:
            from numba import cuda  # noqa: F401
        except ImportError as exc:
            return False, f"NUMBA_ENABLE_CUDASIM=1 but numba's CUDA target is missing ({exc}); pip install numba-cuda"
        return True, "numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1)"
    try:
        import cupy
    except ImportError as exc:
        return False, (f"CuPy is not installed ({exc}); install netcore[cuda12] or netcore[cuda13] "
                       "to match your CUDA driver")
    try:
        n = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError: no driver, driver too old, ...
        return False, f"CuPy is installed but the CUDA driver/runtime failed: {exc}"
    if n < 1:
        return False, "CuPy is installed but no CUDA device was found"
    try:
        from numba import cuda  # noqa: F401
    except ImportError as exc:
        return False, f"numba's CUDA target is missing ({exc}); pip install numba-cuda"
    try:
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    except Exception as exc:
        return False, f"a CUDA device was found but could not be used: {exc}"
    return True, name


class CudaBackend(Backend):
    """CuPy + numba.cuda. Create through :func:`netcore.get_backend` ("cuda")."""

    name = "cuda"

    def __init__(self, seed: int | None = None) -> None:
        ok, reason = probe()
        if not ok:
            raise BackendUnavailableError(f"backend 'cuda' is unavailable: {reason}")
        self.device_name = reason
        self.simulated = simulator_enabled()
        if self.simulated:
            import numpy as xp
        else:
            import cupy as xp
        super().__init__(xp, seed)

    def describe(self) -> str:
        if self.simulated:
            return "cuda (SIMULATED: numba CUDA simulator on the CPU, NumPy arrays)"
        import cupy

        return f"cuda ({self.device_name}, CuPy {cupy.__version__})"

    def to_numpy(self, x: Any) -> Any:
        if self.simulated:
            import numpy as np

            return np.asarray(x)
        import cupy

        return cupy.asnumpy(x)

    def synchronize(self) -> None:
        if not self.simulated:
            import cupy

            cupy.cuda.get_current_stream().synchronize()
