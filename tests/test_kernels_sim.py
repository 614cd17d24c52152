"""Runs the CUDA-simulator tests (tests/sim) in a subprocess with NUMBA_ENABLE_CUDASIM=1.

The simulator must be switched on before numba.cuda is first imported, which this test
process has already done without it; so the simulator suite runs in a fresh interpreter
and any failure there fails this test with the subprocess's report.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netcore.backend.cuda import simulator_enabled

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(simulator_enabled(), reason="already under the simulator: tests/sim runs directly")
def test_simulator_suite_passes():
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE",
         str(ROOT / "tests" / "sim")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    report = (proc.stdout + proc.stderr)[-6000:]
    assert proc.returncode == 0, f"simulator tests failed (rc={proc.returncode}):\n{report}"
    assert " passed" in proc.stdout, report
