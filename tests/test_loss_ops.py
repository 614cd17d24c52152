"""Loss ops against closed forms and float64 finite differences: categorical cross-entropy on
targets that are not one-hot (Keras' formula, fused and unfused paths alike), per-sample
weights (Keras 3 "sum_over_batch_size"), and optimizer updates that would write NaN/inf."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import numeric_grad

from netcore import losses
from netcore.backend.base import NONFINITE_UPDATE, Backend
from netcore.backend.cpu import CPUBackend

REF = Backend(np, seed=0)
FUSED = CPUBackend(seed=0, fused=True)
BACKENDS = {"reference": REF, "fused cpu": FUSED}


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _keras_cce(t: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Per-row ``-sum_c t_c log softmax(z)_c`` (Keras' categorical cross-entropy, from logits)."""
    z = z - z.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -(t * logp).sum(axis=1)


# ---------------------------------------------------------------- targets that are not one-hot
@pytest.mark.parametrize("be_name", sorted(BACKENDS))
def test_softmax_xent_on_rows_not_summing_to_one_follows_keras(be_name):
    be = BACKENDS[be_name]
    z = np.array([[1.0, -0.5, 2.0], [0.3, 0.2, -1.0]])
    t = np.array([[2.0, 0.5, 0.0], [0.0, 0.0, 0.0]])  # the row, and an all-zero row
    loss, grad = be.softmax_xent(z.copy(), t)
    np.testing.assert_allclose(float(loss), _keras_cce(t, z).mean(), rtol=1e-12)
    p = _softmax(z)
    np.testing.assert_allclose(
        grad, (p * t.sum(axis=1, keepdims=True) - t) / 2, rtol=1e-12, atol=1e-15
    )
    zz = z.copy()
    num = numeric_grad(lambda: float(be.softmax_xent(zz, t)[0]), zz)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9)


def test_categorical_crossentropy_from_logits_and_from_probabilities_agree_on_any_target():
    """The issue's numbers: (2, 0.5, 0) gave 0.756 on the fused path and 0.533 on
    probabilities; both must give Keras' value."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=(6, 3))
    t = np.abs(rng.normal(size=(6, 3))) * rng.integers(0, 3, size=(6, 1))
    t[0] = (2.0, 0.5, 0.0)
    cce = losses.CategoricalCrossentropy()
    want = _keras_cce(t, z).mean()
    for be in BACKENDS.values():
        via_logits, _ = cce.logits_loss(be, z.copy(), t)
        via_probs, _ = cce.forward_backward(be, _softmax(z), t)
        np.testing.assert_allclose(float(via_logits), want, rtol=1e-12)
        np.testing.assert_allclose(float(via_probs), want, rtol=1e-9)
    np.testing.assert_allclose(losses.categorical_crossentropy(t, _softmax(z)), want, rtol=1e-9)


# ---------------------------------------------------------------- per-sample weights
def _weighted_cases(
    rng: np.random.Generator,
) -> list[tuple[str, str, np.ndarray, np.ndarray, np.ndarray]]:
    """(label, op, prediction, target, per-sample loss by an independent NumPy formula)."""
    n, c = 5, 4
    z = rng.normal(size=(n, c))
    lab = rng.integers(0, c, n)
    onehot = np.eye(c)[lab]
    soft = rng.random((n, c))
    p = 1 / (1 + np.exp(-z))
    probs = _softmax(z)
    y = rng.normal(size=(n, c))
    bce_elem = -(soft * np.log(p) + (1 - soft) * np.log(1 - p))
    return [
        ("softmax_xent one-hot", "softmax_xent", z, onehot, _keras_cce(onehot, z)),
        ("softmax_xent labels", "softmax_xent", z, lab, _keras_cce(onehot, z)),
        ("softmax_xent soft", "softmax_xent", z, soft, _keras_cce(soft, z)),
        ("sigmoid_bce", "sigmoid_bce", z, soft, bce_elem.mean(axis=1)),
        ("binary_crossentropy", "binary_crossentropy", p, soft, bce_elem.mean(axis=1)),
        (
            "categorical_crossentropy",
            "categorical_crossentropy",
            probs,
            soft,
            -(soft * np.log(probs)).sum(axis=1),
        ),
        (
            "categorical_crossentropy labels",
            "categorical_crossentropy",
            probs,
            lab,
            -(onehot * np.log(probs)).sum(axis=1),
        ),
        ("mse", "mse", y, soft, ((y - soft) ** 2).mean(axis=1)),
    ]


def _op(be: Backend, op: str):
    if op == "mse":
        return lambda pred, t, sample_weight=None: losses.MeanSquaredError().forward_backward(
            be, pred, t, sample_weight=sample_weight
        )
    return getattr(be, op)


@pytest.mark.parametrize("be_name", sorted(BACKENDS))
def test_sample_weights_scale_each_sample_and_divide_by_the_batch_size(be_name):
    be = BACKENDS[be_name]
    rng = np.random.default_rng(11)
    w = np.array([0.0, 1.0, 2.5, 0.5, 1.0])
    for label, op, pred, t, per_sample in _weighted_cases(rng):
        fn = _op(be, op)
        loss, grad = fn(pred.copy(), t, sample_weight=w.copy())
        np.testing.assert_allclose(
            float(loss), (w * per_sample).sum() / len(w), rtol=1e-9, err_msg=label
        )
        x = pred.copy()

        def loss_at_x(fn=fn, x=x, t=t) -> float:
            return float(fn(x.copy(), t, sample_weight=w.copy())[0])

        num = numeric_grad(loss_at_x, x)
        np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-8, err_msg=label)
        unweighted, _ = fn(pred.copy(), t)
        ones, _ = fn(pred.copy(), t, sample_weight=np.ones(len(w)))
        np.testing.assert_allclose(float(ones), float(unweighted), rtol=1e-12, err_msg=label)


def test_fused_sample_weights_match_the_reference_in_float32():
    rng = np.random.default_rng(5)
    z = rng.normal(size=(33, 7)).astype(np.float32)
    t = rng.random((33, 7)).astype(np.float32)
    w = rng.random(33).astype(np.float32)
    for op in ("softmax_xent", "sigmoid_bce"):
        want = getattr(REF, op)(z.copy(), t, sample_weight=w)
        got = getattr(FUSED, op)(z.copy(), t, sample_weight=w)
        np.testing.assert_allclose(got[0], want[0], rtol=2e-6, err_msg=op)
        np.testing.assert_allclose(got[1], want[1], rtol=2e-5, atol=1e-8, err_msg=op)


@pytest.mark.parametrize("be_name", sorted(BACKENDS))
def test_sample_weight_of_the_wrong_length_is_refused_by_name(be_name):
    z = np.zeros((4, 3))
    with pytest.raises(
        ValueError, match=r"sample_weight must have one weight per sample, shape \(4,\)"
    ):
        BACKENDS[be_name].softmax_xent(z, np.zeros(4, np.int64), sample_weight=np.ones(3))


def test_loss_call_on_host_arrays_takes_sample_weight_and_checks_its_length():
    t, p = np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[0.2, 0.8], [0.6, 0.4]])
    per = -np.log([0.8, 0.6])
    assert losses.categorical_crossentropy(t, p, sample_weight=[1.0, 3.0]) == pytest.approx(
        (per[0] + 3 * per[1]) / 2
    )
    with pytest.raises(ValueError, match="sample_weight must have one weight per sample"):
        losses.categorical_crossentropy(t, p, sample_weight=[1.0, 2.0, 3.0])


# ---------------------------------------------------------------- updates that would write NaN/inf
@pytest.mark.parametrize("be_name", sorted(BACKENDS))
def test_sgd_1e30_step_that_overflows_writes_nothing_and_flags_the_update(be_name):
    be = BACKENDS[be_name]
    rng = np.random.default_rng(0)
    p = rng.normal(size=100).astype(np.float32)
    g = (rng.normal(size=100) * 1e10).astype(np.float32)  # inputs scaled by 1e30 upstream
    before = p.copy()
    flag = np.zeros(1, np.int32)
    be.sgd_update(p, g, None, 1e30, 0.0, False, flag)
    assert flag[0] == NONFINITE_UPDATE
    np.testing.assert_array_equal(p, before)


@pytest.mark.parametrize("be_name", sorted(BACKENDS))
def test_adam_1e6_with_overflowing_gradients_keeps_weights_and_moments(be_name):
    be = BACKENDS[be_name]
    rng = np.random.default_rng(1)
    p = rng.normal(size=64).astype(np.float32)
    g = rng.normal(size=64).astype(np.float32)
    g[7] = 3e19  # g^2 overflows float32: the second moment would become inf
    m, v = np.zeros_like(p), np.zeros_like(p)
    state = [a.copy() for a in (p, m, v)]
    flag = np.zeros(1, np.int32)
    be.adam_update(p, g, m, v, 1e6, 0.9, 0.999, 1e-7, flag)
    assert flag[0] == NONFINITE_UPDATE
    for a, b in zip((p, m, v), state):
        np.testing.assert_array_equal(a, b)
    be.adam_update(p, np.ones_like(g), m, v, 1e6, 0.9, 0.999, 1e-7, flag)
    np.testing.assert_array_equal(p, state[0])  # a raised flag blocks later updates too


@pytest.mark.parametrize("be_name", sorted(BACKENDS))
def test_finite_update_without_a_flag_still_writes(be_name):
    be = BACKENDS[be_name]
    p = np.ones(10, np.float32)
    be.sgd_update(p, np.ones(10, np.float32), None, 0.5, 0.0, False)
    np.testing.assert_array_equal(p, np.full(10, 0.5, np.float32))
