"""Adam's never-NaN check folded into its update on the CPU (``TRUSTED | CERTIFY``): the same
values as the full check, the same refusals, and nothing non-finite ever written, also when
the arrays are changed between updates."""

import numpy as np
import pytest

from netcore.backend.base import NONFINITE_UPDATE
from netcore.backend.cpu import CPUBackend
from netcore.kernels.optimizers import BLOCK, STATE_BOUND
from netcore.layers import Dense
from netcore.models import Sequential
from netcore.optimizers import Adam

N = 3 * BLOCK + 37  # several blocks and a short last one
ARGS = (1e-3, 0.9, 0.999, 1e-7)


class _NeverKept(dict):
    def __setitem__(self, key, value):
        pass


def arrays(seed, dtype=np.float32):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(N).astype(dtype)
    m = (rng.standard_normal(N) * 1e-2).astype(dtype)
    v = (rng.random(N) * 1e-3).astype(dtype)
    return p, m, v


def grads(step, dtype=np.float32):
    return np.random.default_rng(100 + step).standard_normal(N).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_trusted_updates_equal_the_full_check_bit_for_bit_and_the_reference_closely(dtype):
    trusted, full, ref = CPUBackend(), CPUBackend(), CPUBackend(fused=False)
    full._certified = _NeverKept()
    states = [arrays(0, dtype) for _ in range(3)]
    for step in range(4):
        g = grads(step, dtype)
        for be, (p, m, v) in zip((trusted, full, ref), states):
            skip = np.zeros(1, np.int32)
            be.adam_update(p, g, m, v, *ARGS, skip)
            assert skip[0] == 0
    assert trusted._certified  # the later steps ran trusted
    for a, b in zip(states[0], states[1]):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(states[0], states[2]):
        np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == np.float32 else 1e-12, atol=0)


def _certified_backend():
    be = CPUBackend()
    p, m, v = arrays(1)
    be.adam_update(p, grads(0), m, v, *ARGS, np.zeros(1, np.int32))
    assert be._certified
    return be, p, m, v


def test_a_state_made_to_overflow_through_the_backend_refuses_the_whole_update():
    be, p, m, v = _certified_backend()
    m[N - 5], v[N - 5] = np.float32(3e38), 0  # |alpha m| / eps overflows: w becomes -inf
    be.forget_update_bounds()  # what set_weights and the loaders do
    before = [a.copy() for a in (p, m, v)]
    skip = np.zeros(1, np.int32)
    g = grads(1)
    g[N - 5] = 0  # v stays 0: the denominator is eps
    be.adam_update(p, g, m, v, *ARGS, skip)
    assert skip[0] == NONFINITE_UPDATE
    for a, b in zip((p, m, v), before):
        np.testing.assert_array_equal(a, b)  # all or nothing: nothing
    assert not be._certified


def test_a_state_written_by_hand_beyond_the_bound_never_leads_to_a_nonfinite_write():
    be, p, m, v = _certified_backend()
    k = 2 * BLOCK + 3
    m[k], v[k] = np.float32(3e38), 0  # written behind the backend's back: a broken promise
    before = [a.copy() for a in (p, m, v)]
    skip = np.zeros(1, np.int32)
    g = grads(1)
    g[k] = 0
    be.adam_update(p, g, m, v, *ARGS, skip)
    assert skip[0] == NONFINITE_UPDATE
    assert all(np.isfinite(a).all() for a in (p, m, v))
    # from the block holding the broken value on, nothing was written; the blocks before it,
    # checked before they were written, took the step
    for a, b in zip((p, m, v), before):
        np.testing.assert_array_equal(a[2 * BLOCK :], b[2 * BLOCK :])
    assert not np.array_equal(p[: 2 * BLOCK], before[0][: 2 * BLOCK])


def test_a_gradient_beyond_the_bound_takes_the_full_check_with_the_same_result():
    be, p, m, v = _certified_backend()
    full = CPUBackend()
    full._certified = _NeverKept()
    q, mq, vq = p.copy(), m.copy(), v.copy()
    g = grads(1)
    g[7] = np.float32(1e12)  # > GRAD_BOUND, finite: the exact path writes it
    for b, arrs in ((be, (p, m, v)), (full, (q, mq, vq))):
        skip = np.zeros(1, np.int32)
        b.adam_update(arrs[0], g, arrs[1], arrs[2], *ARGS, skip)
        assert skip[0] == 0
    for a, b in zip((p, m, v), (q, mq, vq)):
        np.testing.assert_array_equal(a, b)


def test_values_written_beyond_the_bound_are_not_certified():
    be, p, m, v = _certified_backend()
    p[3] = np.float32(STATE_BOUND) * 4  # finite, beyond the bound: written exactly...
    be.forget_update_bounds()
    be.adam_update(p, grads(1), m, v, *ARGS, np.zeros(1, np.int32))
    assert np.isfinite(p).all() and not be._certified  # ...and the next update checks fully


def test_set_weights_makes_the_next_update_check_everything():
    model = Sequential([Dense(3, input_shape=(4,))], backend="cpu", seed=0)
    model.compile(optimizer=Adam(), loss="mse")
    be = model.backend
    assert isinstance(be, CPUBackend)
    x = np.ones((8, 4), np.float32)
    model.train_on_batch(x, np.zeros((8, 3), np.float32))
    assert be._certified
    model.set_weights(model.get_weights())
    assert not be._certified
    model.train_on_batch(x, np.zeros((8, 3), np.float32))
    assert be._certified
    model.layers[0].set_weights(model.layers[0].get_weights())
    assert not be._certified
