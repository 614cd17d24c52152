"""The reliability figures on this machine (stall report, saves, buffers, many layers, save
memory): ``python benchmarks/reliability_cpu.py OUT.json``.

- the stall report: ``tests/distributed/leave.py stall`` under ``mpiexec -n 2`` with
  ``NETCORE_DIST_STALL_S=1`` and ``NETCORE_DIST_TIMEOUT_S=3``: the wait the first report states
  and the seconds from launch to the end of the job;
- bounded buffers: ``evaluate`` at 3,000 distinct batch sizes (1..3000 rows) on a 1,000-unit
  output; the bytes the model's per-shape buffers hold afterwards and the traced peak;
- 100,000 layers: ``Sequential.from_config`` of 100,000 Dense(1) layers, and ``save`` +
  ``load_model`` of that model;
- the memory of a save: a float32 model of ``--save-mb`` MB of weights (one Dense layer,
  uncompiled), the peak of traced allocations during ``save`` (numpy's allocations are traced).
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import netcore  # noqa: E402
from netcore import layers  # noqa: E402
from netcore.saving.loader import load_model  # noqa: E402


def stall() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "HYD"))}
    env.update(
        PYTHONPATH=str(REPO),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        NETCORE_DIST_STALL_S="1",
        NETCORE_DIST_TIMEOUT_S="3",
    )
    mpiexec = str(Path(sys.executable).parent / "mpiexec")
    t0 = time.perf_counter()
    proc = subprocess.run(
        [mpiexec, "-n", "2", sys.executable, str(REPO / "tests/distributed/leave.py"), "stall"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    waited = [float(w) for w in re.findall(r"has waited ([0-9.]+) s", proc.stderr)]
    return {
        "stall_s": 1.0,
        "timeout_s": 3.0,
        "first_report_after_s": min(waited) if waited else None,
        "reports": len(waited),
        "job_ended_after_s": round(time.perf_counter() - t0, 2),
        "exit_code": proc.returncode,
    }


def buffers() -> dict:
    model = netcore.Sequential([layers.Dense(1000, input_shape=(4,))], backend="cpu", seed=0)
    model.compile(optimizer="sgd", loss="mse")
    x = np.random.default_rng(0).normal(size=(3000, 4)).astype(np.float32)
    y = np.zeros((3000, 1000), np.float32)
    tracemalloc.start()
    t0 = time.perf_counter()
    for n in range(1, 3001):
        model.evaluate(x[:n], y[:n], batch_size=n)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    held = sum(b.nbytes for b in model._grad_buffers.values())
    held += sum(b.nbytes for layer in model.layers for b in layer._buffers.values())
    return {
        "batch_sizes": 3000,
        "output_units": 1000,
        "held_after_mb": round(held / 1e6, 2),
        "traced_peak_mb": round(peak / 1e6, 1),
        # one float32 (n, 1000) gradient buffer per batch size n, kept forever
        "unbounded_would_hold_gb": round(4 * 1000 * 3000 * 3001 / 2 / 1e9, 1),
        "seconds": round(seconds, 1),
    }


def many_layers(n: int = 100_000) -> dict:
    config = {
        "name": "deep",
        "seed": 1,
        "dtype": "float32",
        "layers": [
            {"class": "Dense", "config": {"units": 1, **({"input_shape": [1]} if i == 0 else {})}}
            for i in range(n)
        ],
    }
    t0 = time.perf_counter()
    model = netcore.Sequential.from_config(config, backend="cpu")
    built = time.perf_counter() - t0
    out: dict = {"layers": n, "from_config_s": round(built, 2)}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "deep.netcore"
        t0 = time.perf_counter()
        model.save(path)
        out["save_s"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        try:
            load_model(path)
            out["load_model"] = "loaded"
        except Exception as exc:  # a refusal is an answer too: it is timed and named
            out["load_model"] = f"refused: {type(exc).__name__}: {str(exc)[:200]}"
        out["load_model_s"] = round(time.perf_counter() - t0, 2)
    return out


def save_memory(mb: int) -> dict:
    units = int((mb * 1e6 / 4) ** 0.5)
    model = netcore.Sequential([layers.Dense(units, input_shape=(units,))], backend="cpu", seed=0)
    weights = model._flat_params.nbytes
    largest = max(p.nbytes for p in model._params())
    with tempfile.TemporaryDirectory() as tmp:
        tracemalloc.start()
        t0 = time.perf_counter()
        model.save(Path(tmp) / "big.netcore")
        seconds = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {
        "weights_mb": round(weights / 1e6, 1),
        "largest_array_mb": round(largest / 1e6, 1),
        "save_traced_peak_mb": round(peak / 1e6, 2),
        "save_s": round(seconds, 2),
    }


def main() -> None:
    out_path = Path(sys.argv[1])
    save_mb = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    result = {
        "commit": commit,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs), "
        f"Python {platform.python_version()}, NumPy {np.__version__}",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "stall": stall(),
        "buffers": buffers(),
        "many_layers": many_layers(),
        "save_memory": save_memory(save_mb),
    }
    out_path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
