"""What "same seed, same result" holds for on the CPU: the same machine and the same BLAS
thread count. Each run is a fresh process (the thread count is fixed when NumPy loads
OpenBLAS); two runs with the same ``OPENBLAS_NUM_THREADS`` give the same bits. Runs with
different thread counts may differ in the last bits (OpenBLAS may split a matrix product
differently), so that is not asserted."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

RUN = """
import hashlib
import numpy as np
from netcore.layers import Dense, Dropout
from netcore.models import Sequential

rng = np.random.default_rng(0)
x = rng.normal(size=(512, 256)).astype(np.float32)
y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 512)]
m = Sequential([Dense(256, activation="relu", input_shape=(256,)), Dropout(0.2),
                Dense(10, activation="softmax")], backend="cpu", seed=42)
m.compile(optimizer="adam", loss="categorical_crossentropy")
history = m.fit(x, y, epochs=2, batch_size=128, verbose=0)
digest = hashlib.sha256()
for w in m.get_weights():
    digest.update(w.tobytes())
digest.update(np.array(history.history["loss"]).tobytes())
print(digest.hexdigest())
"""


def fingerprint(threads: int) -> str:
    env = dict(
        os.environ,
        OPENBLAS_NUM_THREADS=str(threads),
        OMP_NUM_THREADS=str(threads),
        NETCORE_BACKEND="cpu",
    )
    run = subprocess.run(
        [sys.executable, "-c", RUN], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout.strip()


@pytest.mark.slow
@pytest.mark.parametrize("threads", [1, 2])
def test_same_seed_and_blas_thread_count_give_bit_identical_training(threads):
    assert fingerprint(threads) == fingerprint(threads)
