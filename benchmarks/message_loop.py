"""A failing rank's whole message reaches stderr, run after run, under load.

``python benchmarks/message_loop.py [RUNS]`` starts one busy process per core (pure Python
loops), then runs ``tests/distributed/fail_one_rank.py`` under ``mpiexec -n 2`` RUNS times
(default 50) and checks in each that stderr holds the rank's exception, its traceback and the
abort line. Prints one JSON object: runs, failures, seconds per run (min, median, max).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXPECTED = (
    "Traceback (most recent call last):",
    'in on_epoch_end\n    raise RuntimeError("deliberate failure on rank 1 after epoch 1")',
    "RuntimeError: deliberate failure on rank 1 after epoch 1",
    "netcore: rank 1 of 2: uncaught RuntimeError: deliberate failure on rank 1 after epoch 1",
)


def _busy() -> None:
    while True:
        sum(i * i for i in range(10_000))


def main(runs: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PMI_", "OMPI_", "PMIX_"))}
    env.update(PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    mpiexec = str(Path(sys.executable).parent / "mpiexec")
    load = [multiprocessing.Process(target=_busy, daemon=True) for _ in range(os.cpu_count() or 2)]
    for p in load:
        p.start()
    failures, seconds = [], []
    try:
        for i in range(runs):
            t0 = time.perf_counter()
            proc = subprocess.run(
                [
                    mpiexec,
                    "-n",
                    "2",
                    sys.executable,
                    str(REPO / "tests/distributed/fail_one_rank.py"),
                ],
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
            )
            seconds.append(time.perf_counter() - t0)
            missing = [e for e in EXPECTED if e not in proc.stderr]
            if proc.returncode == 0 or missing:
                failures.append(
                    {
                        "run": i,
                        "rc": proc.returncode,
                        "missing": missing,
                        "stderr": proc.stderr[-2000:],
                    }
                )
    finally:
        for p in load:
            p.terminate()
    seconds.sort()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    return {
        "commit": commit,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared with other jobs)",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "runs": runs,
        "failures": len(failures),
        "load": f"{len(load)} busy processes (one per core)",
        "seconds_per_run": {
            "min": round(seconds[0], 2),
            "median": round(seconds[len(seconds) // 2], 2),
            "max": round(seconds[-1], 2),
        },
        "failed_runs": failures,
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 50), indent=1))
