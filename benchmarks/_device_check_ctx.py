"""The device check's frame: results, failures, sections that report and carry on, and the
context every section reads (backend, array module, device and host timers).

Imported by :mod:`benchmarks.device_check` and its section modules.
"""

from __future__ import annotations

import statistics
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

RESULTS: dict[str, Any] = {
    "meta": {},
    "sections": {},
    "kernels": [],
    "conv_kernels": [],
    "copy": {},
    "launch": [],
    "capture": [],
    "selfcheck": {},
    "compare": {},
    "compare_cnn": {},
}
FAILURES: list[str] = []
T_START = time.perf_counter()
F = TypeVar("F", bound=Callable[..., Any])


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T_START:6.1f}s] {msg}", flush=True)


def section(name: str) -> Callable[[F], F]:
    """Run the section; on any exception print FAIL, record it, and carry on."""

    def deco(fn: F) -> F:
        def run(*args: Any, **kw: Any) -> Any:
            log(f"== {name}")
            t0 = time.perf_counter()
            try:
                out = fn(*args, **kw)
                status = "ok"
            except Exception as exc:  # report and continue with the next section
                out = None
                status = f"FAIL: {type(exc).__name__}: {exc}"
                FAILURES.append(f"{name}: {type(exc).__name__}: {exc}")
                print(f"FAIL {name}: {type(exc).__name__}: {exc}", flush=True)
                traceback.print_exc(limit=6)
            RESULTS["sections"][name] = {
                "status": status,
                "seconds": round(time.perf_counter() - t0, 2),
            }
            return out

        return run  # type: ignore[return-value]

    return deco


def fail(what: str) -> None:
    FAILURES.append(what)
    print(f"FAIL {what}", flush=True)


# ---------------------------------------------------------------- context
class Ctx:
    """What every section needs: the backend, the array module, the timers, the settings."""

    def __init__(self, smoke: bool, out: Path, batch_sizes: list[int], repeats: int) -> None:
        import netcore as nc
        from netcore.backend.cuda import simulator_enabled

        self.smoke, self.out, self.batch_sizes, self.repeats = smoke, out, batch_sizes, repeats
        self.simulated = simulator_enabled()
        if self.simulated and not smoke:
            raise SystemExit(
                "NUMBA_ENABLE_CUDASIM=1 is set: use --smoke (full sizes would take hours)"
            )
        # raises BackendUnavailableError with the reason; Any: it is a CudaBackend
        self.be: Any = nc.get_backend("cuda", seed=0)
        self.xp = self.be.xp
        self.gpu = not self.simulated
        if self.gpu:
            import cupy

            self.cupy = cupy
            self._blk = cupy.ones((4096, 4096), dtype=cupy.float32)
            self._blk_out = cupy.empty_like(self._blk)

    def paths(self) -> list[str]:
        return ["sim"] if self.simulated else ["raw", "numba"]

    def backend_for(self, path: str) -> Any:
        import netcore as nc
        from netcore.kernels._launch import KernelSet

        be: Any = nc.get_backend("cuda", seed=0)
        if path != "sim":
            be.kernels = KernelSet(False, path=path)
            be.launch_path = path
        return be

    def sync(self) -> None:
        self.be.synchronize()

    def device_time(self, fn: Callable[[], Any], k: int, trials: int) -> float:
        """Median seconds per call of ``fn`` on the device (host cost hidden behind a matmul)."""
        for _ in range(2):
            fn()
        self.sync()
        ts = []
        if not self.gpu:
            for _ in range(trials):
                t0 = time.perf_counter()
                for _ in range(k):
                    fn()
                ts.append((time.perf_counter() - t0) / k)
            return statistics.median(ts)
        cp = self.cupy
        start, end = cp.cuda.Event(), cp.cuda.Event()
        for _ in range(trials):
            cp.matmul(self._blk, self._blk, out=self._blk_out)  # ~ms of device work first
            start.record()
            for _ in range(k):
                fn()
            end.record()
            end.synchronize()
            ts.append(cp.cuda.get_elapsed_time(start, end) / 1e3 / k)
        return statistics.median(ts)

    def host_time(self, fn: Callable[[], Any], n: int, rounds: int = 5) -> float:
        """Seconds of host time per call: median over ``rounds`` runs of ``n // rounds``
        back-to-back calls (enqueue cost; one long run would let one GC pause or a stall on a
        full launch queue decide the number)."""
        for _ in range(3):
            fn()
        self.sync()
        m = max(1, n // rounds)
        ts = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            for _ in range(m):
                fn()
            ts.append((time.perf_counter() - t0) / m)
            self.sync()
        return statistics.median(ts)


def _dist_version(name: str) -> str:
    """An installed distribution's version without importing it (importing torch into this
    process would slow what it times), or why there is none."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"
