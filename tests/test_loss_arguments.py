"""Loss objects with Keras 3's arguments and values. The reference numbers are those Keras 3
publishes in ``keras/src/losses/losses_test.py``; each case names the test it comes from.
Training with them: ``from_logits=True`` equals the probability path, ``label_smoothing``
and ``reduction="sum"`` act in ``fit`` as in the loss call, gradients match float64 finite
differences."""

import numpy as np
import pytest

import netcore as nc
from netcore import losses as L
from netcore.backend.cpu import CPUBackend
from netcore.layers import Dense
from netcore.models import Sequential
from netcore.utils import to_categorical

F32 = "float32"
# MeanSquaredErrorTest / MeanAbsoluteErrorTest data
YT = np.array([[1, 9, 2], [-5, -2, 6]])
YP = np.array([[4, 8, 12], [8, 1, 3]], dtype=F32)
YT3 = np.asarray([1, 9, 2, -5, -2, 6]).reshape(2, 3, 1)
YP3 = np.asarray([4, 8, 12, 8, 1, 3]).reshape(2, 3, 1)
STEP_W = np.array([3, 6, 5, 0, 4, 2]).reshape((2, 3))
# CategoricalCrossentropyTest data
ONEHOT = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
PROBS = np.array([[0.9, 0.05, 0.05], [0.5, 0.89, 0.6], [0.05, 0.01, 0.94]], dtype=F32)
LOGITS = np.array([[8.0, 1.0, 1.0], [0.0, 9.0, 1.0], [2.0, 3.0, 5.0]])
W3 = np.array([[1.2], [3.4], [5.6]])
# BinaryCrossentropyTest data
BT, BP = np.array([1, 0, 1, 0]).reshape([2, 2]), np.array([1, 1, 1, 0], dtype=F32).reshape([2, 2])
BLT = np.array([[1, 0, 1], [0, 1, 1]])
BLZ = np.array([[10.0, -10.0, 10.0], [10.0, 10.0, -10.0]])
# HuberLossTest / KLDivergenceTest data
HP, HT = np.array([[0.9, 0.2, 0.2], [0.8, 0.4, 0.6]]), np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
KP = np.asarray([0.4, 0.9, 0.12, 0.36, 0.3, 0.4], dtype=F32).reshape((2, 3))
KT = np.asarray([0.5, 0.8, 0.12, 0.7, 0.43, 0.8], dtype=F32).reshape((2, 3))


def huber_ref(t, p, delta=1.0):  # HuberLossTest.huber_loss
    a = np.abs(p - t)
    q = np.minimum(a, delta)
    return 0.5 * q * q + delta * (a - q)


CASES = [
    # (Keras test, loss, y_true, y_pred, sample_weight, expected, decimals): Keras checks
    # with assertAlmostEqual (3 decimals by default) or assertAllClose (1e-6, the 5 below)
    ("MeanSquaredErrorTest.test_unweighted", L.MeanSquaredError(), YT, YP, None, 49.5, 3),
    ("MeanSquaredErrorTest.test_scalar_weighted", L.MeanSquaredError(), YT, YP, 2.3, 113.85, 3),
    (
        "MeanSquaredErrorTest.test_sample_weighted",
        L.MeanSquaredError(),
        YT,
        YP,
        np.array([[1.2], [3.4]]),
        767.8 / 6,
        3,
    ),
    (
        "MeanSquaredErrorTest.test_timestep_weighted",
        L.MeanSquaredError(),
        YT3,
        YP3,
        STEP_W,
        97.833336,
        3,
    ),
    ("MeanSquaredErrorTest.test_zero_weighted", L.MeanSquaredError(), YT, YP, 0, 0.0, 3),
    (
        "MeanSquaredErrorTest.test_sum_reduction",
        L.MeanSquaredError(reduction="sum"),
        YT,
        YP,
        2.3,
        227.69998,
        3,
    ),
    ("MeanAbsoluteErrorTest.test_unweighted", L.MeanAbsoluteError(), YT, YP, None, 5.5, 3),
    ("MeanAbsoluteErrorTest.test_scalar_weighted", L.MeanAbsoluteError(), YT, YP, 2.3, 12.65, 3),
    (
        "MeanAbsoluteErrorTest.test_sample_weighted",
        L.MeanAbsoluteError(),
        YT,
        YP,
        np.array([[1.2], [3.4]]),
        81.4 / 6,
        3,
    ),
    (
        "MeanAbsoluteErrorTest.test_timestep_weighted",
        L.MeanAbsoluteError(),
        YT3,
        YP3,
        STEP_W,
        13.833333,
        3,
    ),
    (
        "MeanAbsoluteErrorTest.test_sum_reduction",
        L.MeanAbsoluteError(reduction="sum"),
        YT,
        YP,
        2.3,
        25.29999,
        3,
    ),
    (
        "BinaryCrossentropyTest.test_unweighted",
        L.BinaryCrossentropy(),
        np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=F32),
        np.array([[0.9, 0.1, 0.2], [0.3, 0.8, 0.1], [0.1, 0.2, 0.7]], dtype=F32),
        None,
        0.20046903,
        5,
    ),
    (
        "BinaryCrossentropyTest.test_unweighted (clipped)",
        L.BinaryCrossentropy(),
        BT,
        BP,
        None,
        3.98559,
        3,
    ),
    (
        "BinaryCrossentropyTest.test_unweighted (logits)",
        L.BinaryCrossentropy(from_logits=True),
        BLT,
        BLZ,
        None,
        3.3333,
        3,
    ),
    ("BinaryCrossentropyTest.test_scalar_weighted", L.BinaryCrossentropy(), BT, BP, 2.3, 9.1668, 3),
    (
        "BinaryCrossentropyTest.test_scalar_weighted (logits)",
        L.BinaryCrossentropy(from_logits=True),
        BLT,
        BLZ,
        2.3,
        7.666,
        3,
    ),
    (
        "BinaryCrossentropyTest.test_sample_weighted",
        L.BinaryCrossentropy(),
        BT,
        BP,
        np.array([1.2, 3.4]).reshape((2, 1)),
        4.7827,
        3,
    ),
    (
        "BinaryCrossentropyTest.test_sample_weighted (logits)",
        L.BinaryCrossentropy(from_logits=True),
        BLT,
        BLZ,
        np.array([4, 3]),
        10.0,
        3,
    ),
    (
        "BinaryCrossentropyTest.test_label_smoothing",
        L.BinaryCrossentropy(from_logits=True, label_smoothing=0.1),
        np.array([[1, 0, 1]]),
        np.array([[10.0, -10.0, -10.0]]),
        None,
        (10.0 + 5.0 * 0.1) / 3.0,
        3,
    ),
    (
        "CategoricalCrossentropyTest.test_unweighted",
        L.CategoricalCrossentropy(),
        ONEHOT,
        PROBS,
        None,
        0.3239,
        3,
    ),
    (
        "CategoricalCrossentropyTest.test_unweighted (logits)",
        L.CategoricalCrossentropy(from_logits=True),
        ONEHOT,
        LOGITS,
        None,
        0.0573,
        3,
    ),
    (
        "CategoricalCrossentropyTest.test_scalar_weighted",
        L.CategoricalCrossentropy(),
        ONEHOT,
        PROBS,
        2.3,
        0.7449,
        3,
    ),
    (
        "CategoricalCrossentropyTest.test_scalar_weighted (logits)",
        L.CategoricalCrossentropy(from_logits=True),
        ONEHOT,
        LOGITS,
        2.3,
        0.1317,
        3,
    ),
    (
        "CategoricalCrossentropyTest.test_sample_weighted",
        L.CategoricalCrossentropy(),
        ONEHOT,
        PROBS,
        W3,
        1.0696,
        3,
    ),
    (
        "CategoricalCrossentropyTest.test_sample_weighted (logits)",
        L.CategoricalCrossentropy(from_logits=True),
        ONEHOT,
        LOGITS,
        W3,
        0.31829,
        3,
    ),
    (
        "CategoricalCrossentropyTest.test_label_smoothing",
        L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
        np.array([[1, 0, 0]]),
        np.array([[100.0, -100.0, -100.0]]),
        None,
        400.0 * 0.1 / 3.0,
        3,
    ),
    (
        "SparseCategoricalCrossentropyTest.test_unweighted",
        L.SparseCategoricalCrossentropy(),
        np.array([0, 1, 2]),
        PROBS,
        None,
        0.3239,
        3,
    ),
    (
        "SparseCategoricalCrossentropyTest.test_unweighted (logits)",
        L.SparseCategoricalCrossentropy(from_logits=True),
        np.array([0, 1, 2]),
        LOGITS,
        None,
        0.0573,
        3,
    ),
    (
        "SparseCategoricalCrossentropyTest.test_scalar_weighted",
        L.SparseCategoricalCrossentropy(),
        np.array([[0], [1], [2]]),
        PROBS,
        2.3,
        0.7449,
        3,
    ),
    (
        "SparseCategoricalCrossentropyTest.test_sample_weighted (logits)",
        L.SparseCategoricalCrossentropy(from_logits=True),
        np.array([[0], [1], [2]]),
        LOGITS,
        W3,
        0.31829,
        3,
    ),
    ("HuberLossTest.test_unweighted", L.Huber(), HT, HP, None, huber_ref(HT, HP).sum() / 6, 3),
    (
        "HuberLossTest.test_sample_weighted",
        L.Huber(),
        HT,
        HP,
        np.array([[1.2], [3.4]]),
        (huber_ref(HT, HP) * np.array([[1.2], [3.4]])).sum() / 6,
        3,
    ),
    (
        "HuberLossTest.test_timestep_weighted",
        L.Huber(),
        HT.reshape(2, 3, 1),
        HP.reshape(2, 3, 1),
        STEP_W.reshape(2, 3, 1),
        (huber_ref(HT, HP) * STEP_W).sum() / 6,
        3,
    ),
    (
        "HuberLossTest.test_non_default_delta",
        L.Huber(delta=0.8),
        HT,
        HP,
        2.3,
        2.3 * huber_ref(HT, HP, 0.8).sum() / 6,
        3,
    ),
    (
        "KLDivergenceTest.test_unweighted",
        L.KLDivergence(),
        KT,
        KP,
        None,
        (KT * np.log(KT / KP)).sum() / 2,
        3,
    ),
    (
        "KLDivergenceTest.test_sample_weighted",
        L.KLDivergence(),
        KT,
        KP,
        np.array([1.2, 3.4]).reshape((2, 1)),
        (KT * np.log(KT / KP) * np.array([[1.2], [3.4]])).sum() / 2,
        3,
    ),
    (
        "KLDivergenceTest.test_timestep_weighted",
        L.KLDivergence(),
        KT.reshape(2, 3, 1),
        KP.reshape(2, 3, 1),
        STEP_W,
        (KT * np.log(KT / KP) * STEP_W).sum() / 6,
        3,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_keras_published_value(case):
    _, loss, y_true, y_pred, weight, expected, decimals = case
    assert loss(y_true, y_pred, sample_weight=weight) == pytest.approx(
        expected, abs=1.5 * 10**-decimals
    )


@pytest.mark.parametrize(
    "name, loss, y_true, y_pred, expected",
    [
        (
            "MeanSquaredErrorTest.test_no_reduction",
            L.MeanSquaredError(reduction=None),
            YT,
            YP,
            [84.3333, 143.3666],
        ),
        (
            "MeanAbsoluteErrorTest.test_no_reduction",
            L.MeanAbsoluteError(reduction=None),
            YT,
            YP,
            [10.7333, 14.5666],
        ),
    ],
)
def test_keras_no_reduction_scaled_by_a_scalar_weight(name, loss, y_true, y_pred, expected):
    np.testing.assert_allclose(loss(y_true, y_pred, sample_weight=2.3), expected, atol=1e-3)


def test_keras_no_reduction_from_logits():
    # BinaryCrossentropyTest.test_no_reduction, CategoricalCrossentropyTest.test_no_reduction
    bce = L.BinaryCrossentropy(from_logits=True, reduction=None)
    np.testing.assert_allclose(bce(BLT, BLZ), [0.0, 6.666], atol=1e-3)
    cce = L.CategoricalCrossentropy(from_logits=True, reduction=None)
    np.testing.assert_allclose(cce(ONEHOT, LOGITS), (0.001822, 0.000459, 0.169846), atol=1e-5)


def test_bad_arguments_are_refused_naming_them():
    with pytest.raises(ValueError, match="Invalid value for argument `reduction`"):
        L.Huber(reduction="abc")
    with pytest.raises(ValueError, match="label_smoothing"):
        L.CategoricalCrossentropy(label_smoothing=2)
    with pytest.raises(TypeError):
        L.SparseCategoricalCrossentropy(label_smoothing=0.1)  # Keras has none there either
    with pytest.raises(ValueError, match="must have the same shape"):
        L.CategoricalCrossentropy()(np.array([[0], [1], [2]]), PROBS)  # CCETest.test_shape_mismatch
    with pytest.raises(ValueError, match="reduction=None"):
        Sequential([Dense(2, input_shape=(2,))]).compile(loss=L.MeanSquaredError(reduction=None))


# --- in training --------------------------------------------------------------------------
RNG = np.random.default_rng(2)
X = RNG.normal(size=(12, 4))
LABELS = RNG.integers(0, 3, 12)


def trained(activation, loss, y, seed=3, steps=3):
    m = Sequential(
        [Dense(3, activation=activation, input_shape=(4,))],
        backend="cpu",
        seed=seed,
        dtype="float64",
    )
    m.compile(optimizer="sgd", loss=loss, metrics=["accuracy"])
    logs = [m.train_on_batch(X, y) for _ in range(steps)]
    return m, logs


@pytest.mark.parametrize(
    "prob_loss, logit_loss, activation, y",
    [
        (
            "categorical_crossentropy",
            L.CategoricalCrossentropy(from_logits=True),
            "softmax",
            to_categorical(LABELS, 3),
        ),
        (
            "sparse_categorical_crossentropy",
            L.SparseCategoricalCrossentropy(from_logits=True),
            "softmax",
            LABELS,
        ),
        (
            "binary_crossentropy",
            L.BinaryCrossentropy(from_logits=True),
            "sigmoid",
            to_categorical(LABELS, 3),
        ),
    ],
)
def test_from_logits_on_a_dense_without_activation_equals_the_probability_path(
    prob_loss, logit_loss, activation, y
):
    a, logs_a = trained(activation, prob_loss, y)
    b, logs_b = trained(None, logit_loss, y)
    for la, lb in zip(logs_a, logs_b):
        assert la["loss"] == pytest.approx(lb["loss"], rel=1e-10)
        assert la["accuracy"] == lb["accuracy"]
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-10, atol=1e-12)


def test_label_smoothing_and_sum_reduction_in_training_match_the_loss_call():
    y = to_categorical(LABELS, 3)
    loss = L.CategoricalCrossentropy(label_smoothing=0.2, reduction="sum")
    m = Sequential(
        [Dense(3, activation="softmax", input_shape=(4,))], backend="cpu", seed=1, dtype="float64"
    )
    m.compile(optimizer="sgd", loss=loss)
    p = m.predict(X)
    assert m.evaluate(X, y, batch_size=12) == pytest.approx(loss(y, p), rel=1e-10)
    smooth_mean = L.CategoricalCrossentropy(label_smoothing=0.2)(y, p)
    assert loss(y, p) == pytest.approx(12 * smooth_mean, rel=1e-12)


@pytest.mark.parametrize(
    "loss",
    [
        L.MeanAbsoluteError(),
        L.Huber(delta=0.3),
        L.KLDivergence(),
        L.BinaryCrossentropy(label_smoothing=0.1),
        L.MeanSquaredError(reduction="sum"),
    ],
    ids=repr,
)
def test_training_gradient_matches_float64_finite_differences(loss):
    be = CPUBackend()
    rng = np.random.default_rng(4)
    p = rng.uniform(0.05, 0.95, size=(3, 4))
    t = rng.uniform(0.05, 0.95, size=(3, 4))
    w = np.array([0.5, 2.0, 1.0])
    value, grad = loss.forward_backward(be, p.copy(), t, grad_out=np.empty_like(p), sample_weight=w)
    assert float(value) == pytest.approx(loss(t, p, sample_weight=w), rel=1e-12)
    num = np.zeros_like(p)
    h = 1e-6
    for i in np.ndindex(p.shape):
        up, down = p.copy(), p.copy()
        up[i] += h
        down[i] -= h
        num[i] = (loss(t, up, sample_weight=w) - loss(t, down, sample_weight=w)) / (2 * h)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-8)


def test_loss_arguments_are_saved_with_the_model(tmp_path):
    m, _ = trained(
        None,
        L.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1),
        to_categorical(LABELS, 3),
    )
    m.save(tmp_path / "m.netcore")
    back = nc.load_model(tmp_path / "m.netcore", backend="cpu")
    assert back.loss.get_config() == m.loss.get_config()
    assert back.loss.from_logits and back.loss.label_smoothing == 0.1


@pytest.mark.parametrize(
    "loss, units, y, kind",
    [
        ("mse", 1, (X[:, 0] > 0).astype(float), "binary"),
        ("binary_crossentropy", 3, to_categorical(LABELS, 3), "binary"),
        ("sparse_categorical_crossentropy", 3, LABELS, "sparse"),
        ("categorical_crossentropy", 3, to_categorical(LABELS, 3), "categorical"),
    ],
)
def test_accuracy_resolves_as_keras(loss, units, y, kind):
    act = "sigmoid" if units == 1 or loss == "binary_crossentropy" else "softmax"
    m = Sequential(
        [Dense(units, activation=act, input_shape=(4,))], backend="cpu", seed=5, dtype="float64"
    )
    m.compile(loss=loss, metrics=["accuracy"])
    p = m.predict(X)
    got = m.evaluate(X, y, return_dict=True)["accuracy"]
    if kind == "binary":
        want = np.mean((p > 0.5) == (np.reshape(y, p.shape) > 0.5))
    elif kind == "sparse":
        want = np.mean(p.argmax(1) == y)
    else:
        want = np.mean(p.argmax(1) == y.argmax(1))
    assert got == pytest.approx(want)
    if units == 1:
        assert 0 < got < 1  # the categorical reading (argmax of one column) was always 1.0


def test_from_logits_after_a_softmax_layer_warns_once():
    m = Sequential([Dense(3, activation="softmax", input_shape=(4,))], backend="cpu")
    m.compile(loss=L.CategoricalCrossentropy(from_logits=True))
    with pytest.warns(UserWarning, match="from_logits=True, but the last layer"):
        m.fit(X, to_categorical(LABELS, 3), epochs=1, verbose=0)
