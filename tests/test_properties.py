"""Property-based tests: shapes, dtypes, and stability of activations and losses at extremes."""

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from netcore import activations
from netcore.backend.cpu import CPUBackend
from netcore.layers import Dense
from netcore.models import Sequential
from netcore.utils import to_categorical

BE = CPUBackend()
finite = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, width=32)
dtypes = st.sampled_from([np.float32, np.float64])


def logits_strategy(dtype):
    return arrays(dtype, st.tuples(st.integers(1, 6), st.integers(1, 7)), elements=finite)


@settings(max_examples=60, deadline=None)
@given(dtypes.flatmap(logits_strategy))
def test_sigmoid_softmax_stable_and_in_range(z):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / invalid-value warnings allowed
        s = activations.sigmoid(z)
        p = BE.softmax(z.copy())
    assert s.dtype == z.dtype and p.dtype == z.dtype
    assert np.all((s >= 0) & (s <= 1))
    assert np.all(np.isfinite(p)) and np.allclose(p.sum(axis=1), 1, atol=1e-5)


def test_sigmoid_at_minus_1000_no_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = activations.sigmoid(np.array([-1000.0, 0.0, 1000.0]))
    np.testing.assert_allclose(out, [0.0, 0.5, 1.0])


@settings(max_examples=60, deadline=None)
@given(dtypes.flatmap(logits_strategy), st.data())
def test_fused_losses_finite_for_confident_wrong_predictions(z, data):
    n, c = z.shape
    labels = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    onehot = np.eye(c, dtype=z.dtype)[labels]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        l1, g1 = BE.softmax_xent(z.copy(), onehot)
        l2, g2 = BE.softmax_xent(z.copy(), labels)
        tb = (onehot > 0).astype(z.dtype)
        l3, g3 = BE.sigmoid_bce(z.copy(), tb)
    for loss, grad in ((l1, g1), (l2, g2), (l3, g3)):
        assert np.isfinite(loss) and loss >= -1e-6
        assert np.all(np.isfinite(grad)) and grad.dtype == z.dtype
    np.testing.assert_allclose(l1, l2, rtol=1e-5)
    np.testing.assert_allclose(g1, g2, rtol=1e-5, atol=1e-7)
    # gradient rows of softmax cross-entropy sum to zero: (p - t) sums to 1 - 1
    np.testing.assert_allclose(g1.sum(axis=1), 0, atol=1e-5)


def test_confident_wrong_prediction_has_the_closed_form_loss():
    z = np.array([[1e4, -1e4]], dtype=np.float32)
    loss, grad = BE.softmax_xent(z.copy(), np.array([1]))
    assert float(loss) == np.float32(2e4)
    np.testing.assert_allclose(grad, [[1.0, -1.0]])
    loss, _ = BE.sigmoid_bce(np.array([[-1e4]], np.float32), np.array([[1.0]], np.float32))
    assert float(loss) == 1e4


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(1, 9),
    d=st.integers(1, 6),
    units=st.integers(1, 5),
    dtype=st.sampled_from(["float32", "float64"]),
    act=st.sampled_from(["linear", "relu", "sigmoid", "tanh", "softmax"]),
)
def test_dense_shapes_and_dtypes(n, d, units, dtype, act):
    m = Sequential(
        [Dense(units, activation=act, input_shape=(d,))], backend="cpu", seed=0, dtype=dtype
    )
    x = np.random.default_rng(n).normal(size=(n, d))
    out = m.predict(x)
    assert out.shape == (n, units) and out.dtype == np.dtype(dtype)
    assert np.all(np.isfinite(out))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 9), min_size=1, max_size=30))
def test_to_categorical_round_trip(labels):
    oh = to_categorical(labels, 10)
    assert oh.dtype == np.float32 and oh.shape == (len(labels), 10)
    assert oh.argmax(1).tolist() == labels and np.all(oh.sum(1) == 1)
