"""The CPU numba.njit kernels against the NumPy reference (same cases as the simulator tests)."""

from __future__ import annotations

import kernel_cases
import numpy as np
import pytest

from netcore.backend.base import Backend
from netcore.backend.cpu import CPUBackend


@pytest.fixture(scope="module")
def be() -> CPUBackend:
    b = CPUBackend(seed=0, fused=True)
    assert b.fused_ops, "the CPU backend should fuse ops"
    return b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", sorted(kernel_cases.ALL_CHECKS))
def test_cpu_kernel_matches_reference(be, kernel, dtype):
    kernel_cases.check_with_fresh_seed(kernel, be, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reference_update_refuses_nonfinite_values(dtype):
    """The NumPy reference keeps the same promise as the kernels: nothing written, flag 2."""
    kernel_cases.check_update_refuses_nonfinite(
        CPUBackend(seed=0, fused=False), np.random.default_rng(9), dtype
    )


def test_cpu_kernels_bigger_shapes(be):
    """MNIST-sized shapes (vectorised loops, > one cache line of columns)."""
    rng = np.random.default_rng(1)
    kernel_cases.check_bias_act_grad(be, rng, np.float32, shapes=[(128, 512)])
    kernel_cases.check_softmax_xent(be, rng, np.float32, shapes=[(128, 10)])
    kernel_cases.check_optimizers(be, rng, np.float32, shapes=[(784, 512)])


def test_cpu_backend_is_deterministic(be):
    """Same inputs, same bits: no reduction whose order could vary between runs."""
    rng = np.random.default_rng(2)
    z = rng.normal(size=(64, 300)).astype(np.float32)
    t = np.eye(300, dtype=np.float32)[rng.integers(0, 300, 64)]
    runs = []
    for _ in range(2):
        dz, db = be.bias_act_grad(z.copy(), np.abs(z), "relu")
        loss, g = be.softmax_xent(z.copy(), t)
        runs.append((dz, db, loss, g))
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)


def test_cpu_fallbacks_for_unsupported_layouts(be):
    """Non-contiguous or mixed-dtype inputs go to the reference (still correct)."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=(8, 12)).astype(np.float32)[:, ::2]  # strided view
    b = rng.normal(size=6).astype(np.float32)
    ref = Backend(np)
    np.testing.assert_allclose(
        be.bias_act(z, b, "relu", out=np.empty((8, 6), np.float32)),
        ref.bias_act(z, b, "relu", out=np.empty((8, 6), np.float32)),
    )
    p = rng.normal(size=10)  # float64 param, float32 grad
    g = rng.normal(size=10).astype(np.float32)
    p2 = p.copy()
    be.sgd_update(p, g, None, 0.1, 0.0, False)
    ref.sgd_update(p2, g, None, 0.1, 0.0, False)
    np.testing.assert_array_equal(p, p2)


def test_cpu_read_only_inputs_still_work(be):
    """Read-only inputs (e.g. memory-mapped data) fall back or are copied, never crash."""
    rng = np.random.default_rng(4)
    z = rng.normal(size=(6, 4)).astype(np.float32)
    t = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 6)]
    lab = t.argmax(1)
    for a in (z, t, lab):
        a.flags.writeable = False
    ref = Backend(np)
    for target in (t, lab):
        loss, g = be.softmax_xent(z, target)
        w_loss, w_g = ref.softmax_xent(z, target)
        np.testing.assert_allclose(loss, w_loss, rtol=1e-6)
        np.testing.assert_allclose(g, w_g, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(be.bias_act(z, None, "relu", out=np.empty_like(z)), np.maximum(z, 0))


def test_unfused_cpu_backend_is_the_reference():
    b = CPUBackend(seed=0, fused=False)
    assert b.fused_ops == ()
    assert "reference" in b.describe()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_update_beyond_the_cheap_finiteness_bound_is_still_written_exactly(dtype):
    """Weights near 2e37 fail the cheap sufficient test (|w| + alpha/eps |m| <= 1e37) yet the
    update is finite: the exact test must then let it through, equal to the NumPy reference."""
    from netcore.backend.cpu import CPUBackend

    rng = np.random.default_rng(7)
    n = 257
    p = (rng.normal(size=n) * 2e37).astype(dtype)
    g, m = rng.normal(size=n).astype(dtype), rng.normal(size=n).astype(dtype)
    v = np.abs(rng.normal(size=n)).astype(dtype)
    want = [a.copy() for a in (p, g, m, v)]
    fused, ref = CPUBackend(fused=True), CPUBackend(fused=False)
    flags = [np.zeros(1, np.int32), np.zeros(1, np.int32)]
    fused.adam_update(p, g, m, v, 1e-3, 0.9, 0.999, 1e-7, flags[0])
    p0, g0, m0, v0 = want
    ref.adam_update(p0, g0, m0, v0, 1e-3, 0.9, 0.999, 1e-7, flags[1])
    assert flags[0][0] == flags[1][0] == 0
    for got, exp in ((p, want[0]), (m, want[2]), (v, want[3])):
        np.testing.assert_allclose(got, exp, rtol=2e-6 if dtype == np.float32 else 1e-12)
    assert not np.array_equal(m, g)  # the update really ran
