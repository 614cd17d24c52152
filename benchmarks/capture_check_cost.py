"""What the captured step's self-check costs: the checked first replay against a plain replay.

The self-check (:mod:`netcore.training.capture_check`) runs once per model, batch size and
optimizer in a process: a snapshot, one replay, a restore, one eager step, the comparison.
Here on the CPU stand-in the capture tests use (``capture`` keeps the step function,
``replay`` calls it), on the benchmark MLP 784-512-512-10 with Adam: the time of the checked
step against the median replayed step of the same epoch, interleaved over several fresh
models (each one's first capture is checked), fastest of the repeats.

    python -m benchmarks.capture_check_cost [--batch-size 128] [--repeats 5]

writes ``benchmarks/results/capture_check_cpu.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import build_model, make_data
from benchmarks.ptx_registers import provenance
from netcore.training import capture, capture_check

RESULT = Path(__file__).parent / "results" / "capture_check_cpu.json"


class TimedRuntime:
    """The CPU stand-in of the graph runtime, timing each replay."""

    def __init__(self) -> None:
        self.replays: list[float] = []

    def epoch(self) -> Any:
        return contextlib.nullcontext()

    warmup = epoch

    def capture(self, fn: Callable[[], None]) -> Callable[[], None]:
        return fn

    def replay(self, graph: Callable[[], None]) -> None:
        t0 = time.perf_counter()
        graph()
        self.replays.append(time.perf_counter() - t0)


def one_run(batch_size: int, n: int) -> tuple[float, float]:
    """``(checked step s, median replayed step s)`` of one fresh model's first epoch."""
    rt = TimedRuntime()
    capture.backend_can_capture = lambda be: (True, "stand-in")  # type: ignore[assignment]
    capture.runtime_for = lambda be: rt  # type: ignore[assignment]
    real = capture.CapturedFit._checked
    checked: list[float] = []

    def timed(self: Any, *args: Any) -> Any:
        t0 = time.perf_counter()
        out = real(self, *args)
        checked.append(time.perf_counter() - t0)
        return out

    capture.CapturedFit._checked = timed  # type: ignore[method-assign]
    try:
        x, y = make_data(n)
        model = build_model("cpu")
        model.fit(x, y, batch_size=batch_size, epochs=1, verbose=0)
    finally:
        capture.CapturedFit._checked = real  # type: ignore[method-assign]
    assert len(checked) == 1 and not capture_check.needs_check(model, batch_size)
    plain = rt.replays[1:]  # the first replay is inside the checked step
    return checked[0], float(np.median(plain))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--samples", type=int, default=4096)
    a = ap.parse_args()
    runs = [one_run(a.batch_size, a.samples) for _ in range(a.repeats)]
    checked = min(r[0] for r in runs)
    step = min(r[1] for r in runs)
    out = {
        **provenance(),
        "what": "captured step self-check on the CPU stand-in (capture keeps the step, "
        "replay calls it); MLP 784-512-512-10, Adam, float32",
        "batch_size": a.batch_size,
        "repeats": a.repeats,
        "checked_step_s": checked,
        "replayed_step_s": step,
        "extra_steps": (checked - step) / step,
        "tolerance": {
            "array_rtol_float32": capture_check.RTOL[np.dtype(np.float32)],
            "scalar_rtol_float32": capture_check.RTOL_SCALAR[np.dtype(np.float32)],
        },
    }
    RESULT.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
