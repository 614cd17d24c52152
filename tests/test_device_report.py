"""``device_report()``: the one description of the visible GPUs, checked with a stand-in CuPy."""

from __future__ import annotations

from contextlib import nullcontext
from types import SimpleNamespace
from typing import Any

import pytest

from netcore.backend.report import DeviceReport, cuda_version, device_name, device_report


class _Runtime:
    def __init__(
        self,
        devices: list[dict[str, Any]],
        count_error: Exception | None = None,
        bad_index: int | None = None,
    ) -> None:
        self.devices, self.count_error, self.bad_index = devices, count_error, bad_index
        self.current = 0

    def getDeviceCount(self) -> int:
        if self.count_error is not None:
            raise self.count_error
        return len(self.devices)

    def getDeviceProperties(self, i: int) -> dict[str, Any]:
        if i == self.bad_index:
            raise RuntimeError("cudaErrorDevicesUnavailable:\n busy")
        return self.devices[i]

    def memGetInfo(self) -> tuple[int, int]:
        return 3 * 2**30, self.devices[self.current]["totalGlobalMem"]

    def driverGetVersion(self) -> int:
        return 12040

    def runtimeGetVersion(self) -> int:
        return 12020


def _fake_cupy(runtime: _Runtime) -> Any:
    def device(i: int) -> Any:
        runtime.current = i
        return nullcontext()

    return SimpleNamespace(
        __version__="13.3.0", cuda=SimpleNamespace(runtime=runtime, Device=device)
    )


H100 = {"name": b"NVIDIA H100 80GB HBM3", "totalGlobalMem": 80 * 2**30, "major": 9, "minor": 0}


@pytest.fixture(autouse=True)
def _no_simulator(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)


def test_cuda_version_decodes_major_and_minor() -> None:
    assert cuda_version(12040) == "12.4"
    assert cuda_version(11080) == "11.8"
    assert cuda_version(13000) == "13.0"


def test_device_name_accepts_bytes_and_text() -> None:
    assert device_name({"name": b"NVIDIA H200"}) == "NVIDIA H200"
    assert device_name({"name": "Tesla T4"}) == "Tesla T4"


def test_report_names_each_gpu_with_memory_capability_and_versions() -> None:
    t4 = {"name": "Tesla T4", "totalGlobalMem": 16 * 2**30, "major": 7, "minor": 5}
    report = device_report(_fake_cupy(_Runtime([H100, t4])))
    assert report.gpu == "NVIDIA H100 80GB HBM3"
    assert [g.compute_capability for g in report.gpus] == [(9, 0), (7, 5)]
    assert report.gpus[1].total_bytes == 16 * 2**30
    assert (report.driver, report.runtime, report.cupy) == ("12.4", "12.2", "13.3.0")
    assert report.lines() == [
        "GPU 0: NVIDIA H100 80GB HBM3, 80.0 GiB memory (3.0 GiB free), compute capability 9.0",
        "GPU 1: Tesla T4, 16.0 GiB memory (3.0 GiB free), compute capability 7.5",
        "CUDA driver 12.4, runtime 12.2",
    ]
    d = report.as_dict()
    assert d["gpus"][0]["name"] == "NVIDIA H100 80GB HBM3" and d["driver"] == "12.4"


def test_report_says_why_when_the_driver_fails() -> None:
    report = device_report(_fake_cupy(_Runtime([], count_error=RuntimeError("no\ndriver"))))
    assert report.gpus == () and report.gpu is None
    assert report.lines() == ["GPU: none usable (no driver)"]


def test_report_with_no_device() -> None:
    assert device_report(_fake_cupy(_Runtime([]))).lines() == ["GPU: none found"]


def test_a_device_that_cannot_be_queried_is_reported_and_the_rest_kept() -> None:
    report = device_report(_fake_cupy(_Runtime([H100, H100], bad_index=1)))
    assert len(report.gpus) == 1
    assert report.failures == ("GPU 1: could not be queried (cudaErrorDevicesUnavailable: busy)",)


def test_simulator_uses_no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    report = device_report(_fake_cupy(_Runtime([H100])))
    assert report.simulated and report.gpus == ()
    assert "simulator" in report.lines()[0]


def test_without_cupy_the_report_says_it_is_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    report = device_report()
    assert report == DeviceReport(simulated=False, problem="unknown (CuPy is not installed)")
