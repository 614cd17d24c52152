"""Inputs at the edges: weights checked in the model's dtype, NumPy scalars accepted wherever a
number is, non-finite hyper-parameters refused, labels that would wrap or truncate refused by
the standalone losses, a missing y named, and x laid out once for row gathers."""

import json
import warnings

import numpy as np
import pytest

import netcore as nc
from netcore.backend.cpu import CPUBackend
from netcore.callbacks import EarlyStopping
from netcore.layers import Dense, Dropout
from netcore.models import Sequential
from netcore.optimizers import SGD, Adagrad, Adam, RMSprop
from netcore.training.feed import DataFeed
from netcore.utils import to_categorical

RNG = np.random.default_rng(5)
X = RNG.normal(size=(40, 4)).astype(np.float32)
LABELS = RNG.integers(0, 3, 40)
Y = to_categorical(LABELS, 3)


def mlp(dtype="float32"):
    m = Sequential(
        [Dense(5, activation="relu", input_shape=(4,)), Dense(3, activation="softmax")],
        backend="cpu",
        seed=0,
        dtype=dtype,
    )
    m.compile(optimizer="sgd", loss="categorical_crossentropy")
    return m


# ---------------------------------------------------------------- set_weights (item 12)
@pytest.mark.parametrize("target", ["model", "layer"])
def test_set_weights_refuses_values_that_overflow_the_model_dtype_without_a_warning(target):
    m = mlp()
    before = m.get_weights()
    big = [np.full(before[0].shape, 1e300), *before[1:]]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(
            ValueError,
            match=r"weight 0 \(dense\.kernel\) holds values beyond the "
            r"float32 range \(largest magnitude 1e\+300\)",
        ):
            (m if target == "model" else m.layers[0]).set_weights(
                big if target == "model" else big[:2]
            )
    for a, b in zip(m.get_weights(), before):
        np.testing.assert_array_equal(a, b)


def test_set_weights_keeps_values_a_float64_model_can_hold():
    m = mlp("float64")
    w = m.get_weights()
    w[0][0, 0] = 1e300
    m.set_weights(w)
    assert m.get_weights()[0][0, 0] == 1e300


@pytest.mark.parametrize(
    "bad,match",
    [
        (
            lambda w: [w[0].astype(np.complex128), *w[1:]],
            r"weight 0 \(dense\.kernel\) must hold real numbers, received dtype complex128",
        ),
        (lambda w: [w[0] + 1e-3j, *w[1:]], r"must hold real numbers"),
        (
            lambda w: [w[0][None], *w[1:]],
            r"weight 0 \(dense\.kernel\) must have shape \(4, 5\), received \(1, 4, 5\)",
        ),
        (
            lambda w: [w[0], w[1][:, None], *w[2:]],
            r"weight 1 \(dense\.bias\) must have shape \(5,\), received \(5, 1\)",
        ),
        (lambda w: [w[0].T, *w[1:]], r"must have shape \(4, 5\), received \(5, 4\)"),
        (
            lambda w: [*w[:3], np.float32(0.0)],
            r"weight 3 \(dense_1\.bias\) must have shape \(3,\), received \(\)",
        ),
        (
            lambda w: [*w[:3], np.array([0.0, np.nan, 0.0])],
            r"weight 3 \(dense_1\.bias\) holds NaN or inf",
        ),
        (
            lambda w: [*w[:3], np.array(["a", "b", "c"])],
            r"must hold real numbers, received dtype <U1",
        ),
    ],
)
def test_set_weights_refuses_complex_misshapen_and_nonfinite_weights(bad, match):
    m = mlp()
    before = m.get_weights()
    with pytest.raises(ValueError, match=match):
        m.set_weights(bad(m.get_weights()))
    for a, b in zip(m.get_weights(), before):
        np.testing.assert_array_equal(a, b)


# ---------------------------------------------------------------- missing y (item 14)
@pytest.mark.parametrize(
    "call,match",
    [
        (
            lambda m: m.fit(X, None, verbose=0),
            r"^y must be an array of targets, one per sample of x, received None",
        ),
        (lambda m: m.fit(X, verbose=0), r"^y must be an array of targets"),
        (lambda m: m.evaluate(X, None), r"^y must be an array of targets"),
        (lambda m: m.train_on_batch(X, None), r"^y must be an array of targets"),
        (
            lambda m: m.fit(X, Y, verbose=0, validation_data=(X, None)),
            r"^validation_data y must be an array of targets, one per sample of validation_data x",
        ),
    ],
)
def test_a_missing_y_is_named_before_training(call, match):
    with pytest.raises(ValueError, match=match):
        call(mlp())


# ---------------------------------------------------------------- NumPy scalars (item 14)
def test_numpy_scalars_are_accepted_where_numbers_are():
    dense = Dense(np.int64(3), activation="softmax", input_dim=np.int32(4))
    assert dense.units == 3 and type(dense.units) is int and dense.input_shape == (4,)
    drop = Dropout(np.float32(0.5))
    assert drop.rate == 0.5 and type(drop.rate) is float
    assert EarlyStopping(patience=np.int64(2)).patience == 2
    m = Sequential([dense, drop], backend="cpu", seed=0)
    json.dumps(m.get_config())  # plain Python numbers in the config
    m.compile(
        optimizer=Adam(np.float32(0.01), beta_1=np.float64(0.8)), loss="categorical_crossentropy"
    )
    assert m.optimizer is not None
    assert type(m.optimizer.learning_rate) is float


def test_validation_split_as_a_numpy_float_splits_as_the_python_float():
    a, b = mlp(), mlp()
    ha = a.fit(X, Y, epochs=1, verbose=0, validation_split=np.float32(0.25))
    hb = b.fit(X, Y, epochs=1, verbose=0, validation_split=0.25)
    assert ha.history == hb.history


@pytest.mark.parametrize("split", [np.bool_(True), np.float32(1.0), np.float64(np.nan), "0.2"])
def test_validation_split_still_refuses_non_fractions(split):
    with pytest.raises(ValueError, match=r"validation_split must be a number in \[0, 1\)"):
        mlp().fit(X, Y, verbose=0, validation_split=split)


# ---------------------------------------------------------------- hyper-parameters (item 14)
HYPER = [
    (SGD, "learning_rate"),
    (SGD, "momentum"),
    (Adam, "learning_rate"),
    (Adam, "beta_1"),
    (Adam, "beta_2"),
    (Adam, "epsilon"),
    (RMSprop, "learning_rate"),
    (RMSprop, "rho"),
    (RMSprop, "momentum"),
    (RMSprop, "epsilon"),
    (Adagrad, "learning_rate"),
    (Adagrad, "initial_accumulator_value"),
    (Adagrad, "epsilon"),
]


@pytest.mark.parametrize(
    "value",
    [np.inf, -np.inf, np.nan, -0.5, np.float32(np.inf)],
    ids=["inf", "-inf", "nan", "negative", "float32_inf"],
)
@pytest.mark.parametrize("cls,name", HYPER, ids=[f"{c.__name__}.{n}" for c, n in HYPER])
def test_every_optimizer_hyperparameter_refuses_nonfinite_and_negative_values(cls, name, value):
    with pytest.raises(ValueError, match=rf"^{name} must be a number in .*received"):
        cls(**{name: value})


@pytest.mark.parametrize("cls,name", HYPER, ids=[f"{c.__name__}.{n}" for c, n in HYPER])
def test_every_optimizer_hyperparameter_takes_numpy_scalars(cls, name):
    opt = cls(**{name: np.float32(0.5)})
    assert getattr(opt, name) == 0.5 and type(getattr(opt, name)) is float


# ---------------------------------------------------------------- standalone losses (item 14)
P = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1]])


@pytest.mark.parametrize(
    "labels,match",
    [
        ([-1, 0], r"labels in y_true must be in \[0, 3\) for the 3 output units, received -1"),
        ([0.7, 1], r"expects integer labels in y_true, received 0.7"),
        ([0, 3], r"received 3"),
        ([0, np.nan], r"y_true holds NaN or inf"),
    ],
)
def test_standalone_sparse_loss_refuses_labels_that_would_wrap_or_truncate(labels, match):
    with pytest.raises(ValueError, match=match):
        nc.losses.sparse_categorical_crossentropy(labels, P)


def test_standalone_sparse_loss_takes_whole_float_labels_as_integers():
    expected = -(np.log(0.7) + np.log(0.8)) / 2
    assert nc.losses.sparse_categorical_crossentropy([0.0, 1.0], P) == pytest.approx(
        expected, rel=1e-12
    )
    assert nc.losses.sparse_categorical_crossentropy(np.array([0, 1]), P) == pytest.approx(
        expected, rel=1e-12
    )


# ---------------------------------------------------------------- memory layout (item 14)
def test_a_fortran_ordered_x_is_made_c_contiguous_once_and_trains_identically():
    xf = np.asfortranarray(X)
    feed = DataFeed(CPUBackend(), xf, None, np.float32, np.float32)
    assert feed.x.flags.c_contiguous
    a, b = mlp(), mlp()
    a.fit(X, Y, epochs=2, batch_size=8, verbose=0)
    b.fit(xf, Y, epochs=2, batch_size=8, verbose=0)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)


def test_a_c_contiguous_x_of_the_model_dtype_is_not_copied():
    feed = DataFeed(CPUBackend(), X, None, np.float32, np.float32)
    assert feed.x is X or np.shares_memory(feed.x, X)


def test_a_float64_x_beyond_float32_is_refused_by_name_without_a_cast_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(
            ValueError,
            match=r"x holds values up to 2e\+39, beyond the range of the "
            r"model's dtype float32 .*dtype='float64'",
        ):
            mlp().fit(np.where(X > 1, 2e39, X.astype(np.float64)), Y, verbose=0)
