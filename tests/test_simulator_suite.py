"""The CUDA kernels under numba's simulator: each file of tests/sim in an interpreter of its own.

The simulator must be switched on (NUMBA_ENABLE_CUDASIM=1) before numba.cuda is first imported,
which this process has already done without it. One test per file of tests/sim starts pytest on
that file with the variable set and streams its per-test lines to the terminal as they come (so
a long file shows progress); any failure there fails the test here with the subprocess's report.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netcore.backend.cuda import simulator_enabled

ROOT = Path(__file__).resolve().parents[1]
SIM_FILES = sorted(p.name for p in (ROOT / "tests" / "sim").glob("test_*.py"))


@pytest.mark.skipif(simulator_enabled(), reason="already under the simulator")
@pytest.mark.parametrize("name", SIM_FILES)
def test_simulator_file_passes(name, capsys):
    env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", "-rfE"]
    lines: list[str] = []
    with subprocess.Popen(
        [*cmd, str(ROOT / "tests" / "sim" / name)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        with capsys.disabled():
            for line in proc.stdout:
                lines.append(line)
                if "::" in line and line.rstrip().endswith(("]", "%]")):
                    print(f"\n    sim {line.strip()}", end="", flush=True)
        rc = proc.wait(timeout=900)
    report = "".join(lines)[-6000:]
    assert rc == 0, f"simulator tests of {name} failed (rc={rc}):\n{report}"
    assert " passed" in report, report
