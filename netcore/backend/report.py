"""What GPU this process sees, described once for ``netcore info`` and the benchmark scripts.

:func:`device_report` asks CuPy for every visible device (name, memory, compute capability)
and for the CUDA driver and runtime versions, and never raises: whatever cannot be queried is
recorded as a reason in plain words. :func:`device_name` and :func:`cuda_version` are the one
place where CuPy's raw answers (a name as ``bytes``, a version as ``12040``) become text.

>>> cuda_version(12040)
'12.4'
>>> device_name({"name": b"NVIDIA H100 80GB HBM3"})
'NVIDIA H100 80GB HBM3'
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "GpuInfo",
    "DeviceReport",
    "device_report",
    "device_name",
    "cuda_version",
    "CUPY_DISTRIBUTIONS",
]

#: The distribution names CuPy is published under, newest CUDA first.
CUPY_DISTRIBUTIONS: tuple[str, ...] = ("cupy-cuda13x", "cupy-cuda12x", "cupy-cuda11x", "cupy")
_GIB = 2**30


def device_name(props: Mapping[str, Any]) -> str:
    """The device name from CuPy's ``getDeviceProperties`` dict (CuPy gives ``bytes``)."""
    name = props["name"]
    return name.decode(errors="replace") if isinstance(name, bytes) else str(name)


def cuda_version(version: int) -> str:
    """CUDA's integer version code as text: ``1000 * major + 10 * minor`` -> ``"major.minor"``."""
    return f"{version // 1000}.{(version % 1000) // 10}"


@dataclass(frozen=True)
class GpuInfo:
    """One visible CUDA device."""

    index: int
    name: str
    total_bytes: int
    free_bytes: int | None
    compute_capability: tuple[int, int]

    def line(self) -> str:
        free = "" if self.free_bytes is None else f" ({self.free_bytes / _GIB:.1f} GiB free)"
        major, minor = self.compute_capability
        return (
            f"GPU {self.index}: {self.name}, {self.total_bytes / _GIB:.1f} GiB memory{free}, "
            f"compute capability {major}.{minor}"
        )


@dataclass(frozen=True)
class DeviceReport:
    """The GPUs CuPy sees, the CUDA versions, and why any of it is missing.

    ``gpus`` is empty when no GPU is usable; ``problem`` then says why (CuPy missing, no
    driver, no device, simulator on). ``failures`` lists devices found but not queryable.
    """

    simulated: bool
    gpus: tuple[GpuInfo, ...] = ()
    driver: str | None = None
    runtime: str | None = None
    cupy: str | None = None
    problem: str | None = None
    failures: tuple[str, ...] = field(default=())

    @property
    def gpu(self) -> str | None:
        """The first device's name, or None: what a one-GPU benchmark names its card by."""
        return self.gpus[0].name if self.gpus else None

    def lines(self) -> list[str]:
        """Human-readable lines, as ``netcore info`` prints them."""
        if self.problem is not None:
            return [f"GPU: {self.problem}"]
        out = [g.line() for g in self.gpus] + list(self.failures)
        if self.driver or self.runtime:
            out.append(
                f"CUDA driver {self.driver or 'unknown'}, runtime {self.runtime or 'unknown'}"
            )
        return out

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for benchmark result files)."""
        d = asdict(self)
        d["gpus"] = [
            dict(asdict(g), compute_capability=list(g.compute_capability)) for g in self.gpus
        ]
        d["failures"] = list(self.failures)
        return d


def _dist_version(*names: str) -> str | None:
    from importlib import metadata

    for name in names:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text


def device_report(cupy: Any = None) -> DeviceReport:
    """Describe the CUDA devices this process can use. Never raises.

    Args:
        cupy: the CuPy module to ask; ``None`` imports it (tests pass a stand-in).

    Returns:
        A :class:`DeviceReport`. Under numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``) no
        GPU is used and ``simulated`` is True.
    """
    simulated = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") not in ("", "0")
    if simulated:
        return DeviceReport(
            simulated=True,
            problem="none used (the numba CUDA simulator is on; kernels run on the CPU)",
        )
    if cupy is None:
        try:
            import cupy as imported
        except ImportError:
            return DeviceReport(simulated=False, problem="unknown (CuPy is not installed)")
        cupy = imported
    version = getattr(cupy, "__version__", None) or _dist_version(*CUPY_DISTRIBUTIONS)
    runtime_api = cupy.cuda.runtime
    try:
        count = int(runtime_api.getDeviceCount())
    except Exception as exc:  # CUDARuntimeError: no driver, driver too old, ...
        return DeviceReport(simulated=False, cupy=version, problem=f"none usable ({_reason(exc)})")
    if count < 1:
        return DeviceReport(simulated=False, cupy=version, problem="none found")
    gpus, failures = [], []
    for i in range(count):
        try:
            props = runtime_api.getDeviceProperties(i)
            with cupy.cuda.Device(i):
                free, _ = runtime_api.memGetInfo()
            gpus.append(
                GpuInfo(
                    i,
                    device_name(props),
                    int(props["totalGlobalMem"]),
                    int(free),
                    (int(props["major"]), int(props["minor"])),
                )
            )
        except Exception as exc:
            failures.append(f"GPU {i}: could not be queried ({_reason(exc)})")
    driver = runtime = None
    try:
        driver = cuda_version(int(runtime_api.driverGetVersion()))
        runtime = cuda_version(int(runtime_api.runtimeGetVersion()))
    except Exception:  # versions are descriptive only
        pass
    return DeviceReport(
        simulated=False,
        gpus=tuple(gpus),
        driver=driver,
        runtime=runtime,
        cupy=version,
        failures=tuple(failures),
    )
