"""The captured step's self-check: what it costs, and that it catches a wrong replay.

The self-check (:mod:`netcore.training.capture_check`) runs once per model, batch size and
optimizer in a process: a snapshot, one replay, a restore, one eager step, the comparison.
:func:`measure` times it on the benchmark MLP 784-512-512-10 with Adam: the checked step
against the median step of a second, unchecked epoch of the same model (synchronised), on a
real GPU or on the CPU stand-in the capture tests use (``capture`` keeps the step function,
``replay`` calls it). :func:`caught_wrong_replay` injects a frozen Adam rate into the graph
and reports whether the check caught it. ``benchmarks/device_check.py`` calls both.

    python -m benchmarks.capture_check_cost [--batch-size 128] [--repeats 5]

writes ``benchmarks/results/capture_check_cpu.json`` (the CPU stand-in, fastest of the
repeats, each on a fresh model).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import _common as common
from benchmarks._provenance import provenance
from netcore.training import capture, capture_check

RESULT = Path(__file__).parent / "results" / "capture_check_cpu.json"


class StandIn:
    """The CPU stand-in of the graph runtime: capture keeps the step, replay calls it."""

    def epoch(self) -> Any:
        return contextlib.nullcontext()

    warmup = epoch

    def capture(self, fn: Callable[[], None]) -> Callable[[], None]:
        return fn

    def replay(self, graph: Callable[[], None]) -> None:
        graph()


@contextlib.contextmanager
def _patched(obj: Any, name: str, value: Any) -> Iterator[None]:
    old = getattr(obj, name)
    setattr(obj, name, value)
    try:
        yield
    finally:
        setattr(obj, name, old)


@contextlib.contextmanager
def stand_in() -> Iterator[None]:
    """Every backend captures, through :class:`StandIn` (for the CPU)."""
    rt = StandIn()
    with (
        _patched(capture, "backend_can_capture", lambda be: (True, "stand-in")),
        _patched(capture, "runtime_of", lambda be: rt),
    ):
        yield


def _model(device: str, strict: bool) -> Any:
    """The benchmark MLP, captured: ``jit_compile=True`` on CUDA when ``strict`` (a failed
    check raises), else "auto" (the CPU refuses True; the stand-in captures under "auto")."""
    model = common.build_model(device)
    jit = True if strict and device == "cuda" else "auto"
    model.compile(model.optimizer, model.loss, jit_compile=jit)
    return model


def measure(device: str, batch_size: int, n: int) -> dict[str, float]:
    """``checked_step_s`` (the first replay with its check) and ``step_s`` (median step of a
    second epoch) of a fresh model; on ``cpu`` through the stand-in."""
    real = capture.CapturedFit._checked
    checked: list[float] = []

    def timed(self: Any, *args: Any) -> Any:
        common.synchronize(device)
        t0 = time.perf_counter()
        out = real(self, *args)
        common.synchronize(device)
        checked.append(time.perf_counter() - t0)
        return out

    x, y = common.to_backend(device, *common.make_data(n))
    steps = n // batch_size
    on_cpu = stand_in() if device == "cpu" else contextlib.nullcontext()
    with on_cpu, _patched(capture.CapturedFit, "_checked", timed):
        model = _model(device, strict=True)
        model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        assert len(checked) == 1 and not capture_check.needs_check(model, batch_size)
        common.synchronize(device)
        t0 = time.perf_counter()
        model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
        common.synchronize(device)
        step = (time.perf_counter() - t0) / steps
    return {"checked_step_s": checked[0], "step_s": step}


def caught_wrong_replay(device: str, batch_size: int, n: int) -> str | None:
    """The warning of a fit whose graph reads a frozen Adam rate (the warm-up step's), or
    None if the self-check let it through."""
    real = capture.adam_rates

    def frozen(optimizer: Any, first_t: int, steps: int, dtype: Any) -> np.ndarray:
        return np.full_like(real(optimizer, first_t, steps, dtype), optimizer.rate_at(first_t))

    x, y = common.to_backend(device, *common.make_data(n))
    on_cpu = stand_in() if device == "cpu" else contextlib.nullcontext()
    with on_cpu, _patched(capture, "adam_rates", frozen), warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        model = _model(device, strict=False)
        model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    hits = [str(m.message) for m in w if "replayed step differs" in str(m.message)]
    return hits[0] if hits else None


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--samples", type=int, default=4096)
    a = ap.parse_args()
    runs = [measure("cpu", a.batch_size, a.samples) for _ in range(a.repeats)]
    checked = min(r["checked_step_s"] for r in runs)
    step = min(r["step_s"] for r in runs)
    out = {
        **provenance(),
        "what": "captured step self-check on the CPU stand-in (capture keeps the step, "
        "replay calls it); MLP 784-512-512-10, Adam, float32; fastest of the repeats",
        "batch_size": a.batch_size,
        "samples": a.samples,
        "repeats": a.repeats,
        "checked_step_s": checked,
        "step_s": step,
        "extra_steps": (checked - step) / step,
        "wrong_replay_caught": caught_wrong_replay("cpu", a.batch_size, 4 * a.batch_size)
        is not None,
        "tolerance": {
            "array_rtol_float32": capture_check.RTOL[np.dtype(np.float32)],
            "scalar_rtol_float32": capture_check.RTOL_SCALAR[np.dtype(np.float32)],
        },
    }
    RESULT.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
