"""The captured step's kernels (netcore/kernels/captured.py) in numba's CUDA simulator.

The gather, the step recorder and Adam's table-driven update launched through the CUDA
launcher (grids from the backend, as on a GPU) against their NumPy references; then one
captured fit on backend='cuda' (simulated) with a replaying stand-in for the graph runtime,
against the same fit trained eagerly (tests/test_capture.py checks captured fits on the CPU).
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pytest

from netcore.backend.cuda import simulator_enabled

pytestmark = pytest.mark.skipif(
    not simulator_enabled(),
    reason="simulator tests: run in a subprocess by tests/sim/test_sim_kernels.py",
)


@pytest.fixture(scope="module")
def kernels() -> Any:
    from netcore.backend.cuda import CudaBackend
    from netcore.training.capture_kernels import StepKernels

    return StepKernels(CudaBackend(seed=0))


@pytest.mark.parametrize(
    "src",
    [
        np.arange(40 * 5, dtype=np.float32).reshape(40, 5),
        np.arange(40 * 3, dtype=np.float64).reshape(40, 3),
        np.arange(40, dtype=np.int64),
    ],
    ids=["f32", "f64", "i64-labels"],
)
def test_sim_gather_takes_the_counters_rows(kernels: Any, src: np.ndarray) -> None:
    from netcore.kernels.captured import gather_rows_reference

    order = np.random.default_rng(4).permutation(40).astype(np.int64)
    for c in (0, 3):
        dst = np.full((8, *src.shape[1:]), -1, dtype=src.dtype)
        want = dst.copy()
        counter = np.array([c], np.int32)
        kernels.gather(counter, order, src, dst)
        gather_rows_reference(counter, order, src, want)
        np.testing.assert_array_equal(dst, want)


def test_sim_record_writes_the_row_and_moves_the_counter(kernels: Any) -> None:
    log = np.full((3, 4), np.nan)
    counter = np.array([1], np.int32)
    row = np.array([0.5, 3.0, 0.0, 0.0])
    kernels.record(counter, row, log)
    np.testing.assert_array_equal(log[1], row)
    assert np.isnan(log[[0, 2]]).all() and counter[0] == 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sim_adam_update_at_matches_the_reference_update_at_the_tables_rate(
    kernels: Any, dtype: Any
) -> None:
    from netcore.backend.base import Backend

    rng = np.random.default_rng(5)
    p, g, m = (rng.normal(size=300).astype(dtype) for _ in range(3))
    v = rng.random(300).astype(dtype)
    alphas = np.array([1e-3, 4e-3], dtype)
    got = [a.copy() for a in (p, g, m, v)]
    want = [a.copy() for a in (p, g, m, v)]
    flag = np.zeros(1, np.int32)
    p_, g_, m_, v_ = got
    counter = np.array([1], np.int32)
    kernels.update_at("adam_update", flag, p_, g_, m_, v_, alphas, counter, 0.1, 0.001, 1e-7)
    Backend(np).adam_update(*want, float(alphas[1]), 0.9, 0.999, 1e-7, np.zeros(1, np.int32))
    tol = 1e-6 if dtype == np.float32 else 1e-13
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=tol, atol=tol)
    assert flag[0] == 0


class _Replaying:
    def epoch(self) -> Any:
        return contextlib.nullcontext()

    warmup = epoch

    def capture(self, fn: Any) -> Any:
        return fn

    def replay(self, graph: Any) -> None:
        graph()


def test_sim_captured_fit_matches_the_eager_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    import netcore
    from netcore.training import capture

    monkeypatch.setattr(capture, "backend_can_capture", lambda be: (True, "stand-in"))
    monkeypatch.setattr(capture, "runtime_of", lambda be: _Replaying())
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(40, 5)).astype(np.float32), rng.integers(0, 3, 40)
    hist = {}
    for mode in ("auto", False):
        m = netcore.Sequential(
            [
                netcore.layers.Input((5,)),
                netcore.layers.Dense(4, activation="relu"),
                netcore.layers.Dense(3, activation="softmax"),
            ],
            seed=1,
            backend="cuda",
        )
        m.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"], jit_compile=mode)
        hist[mode] = (m.fit(x, y, batch_size=12, epochs=1, verbose=0).history, m.get_weights())
    assert hist["auto"][0] == hist[False][0]
    for a, b in zip(hist["auto"][1], hist[False][1]):
        np.testing.assert_array_equal(a, b)
