"""No RuntimeWarning escapes a public call: overflow and 0/0 on the way to an inf/NaN result
are reported by the result (inference, as Keras) or by a clear error (training, bad input),
never as NumPy warnings. The 'warn once' UserWarnings about unscaled inputs and probability
losses on linear heads are advice, not numerics, and stay."""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import netcore as nc
from netcore.layers import Dense
from netcore.models import Sequential
from netcore.utils import to_categorical

ROOT = Path(__file__).resolve().parents[1]
RNG = np.random.default_rng(2)
X = RNG.normal(size=(20, 4)).astype(np.float32)
Y = to_categorical(np.arange(20) % 3, 3)


@pytest.fixture(autouse=True)
def runtime_warnings_are_errors():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def relu_head_with_cross_entropy():
    """A relu output whose rows are all 0: cross-entropy divides 0 by 0."""
    m = Sequential([Dense(3, activation="relu", input_shape=(4,))], backend="cpu", seed=0)
    m.compile(loss="categorical_crossentropy", metrics=["accuracy"])
    w = m.get_weights()
    m.set_weights([-np.abs(w[0]), w[1]])
    return m


def overflowing():
    m = Sequential([Dense(3, input_shape=(4,))], backend="cpu", seed=0)
    m.compile(loss="mse", metrics=["mse", "mae"])
    m.set_weights([np.full((4, 3), 3e38, np.float32), np.zeros(3)])
    return m


def test_evaluate_of_zero_probabilities_gives_a_loss_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the probability-loss advice
        logs = relu_head_with_cross_entropy().evaluate(np.abs(X), Y, return_dict=True)
    assert set(logs) == {"loss", "accuracy"}


def test_predict_and_evaluate_that_overflow_return_inf_without_warnings():
    m = overflowing()
    x = np.abs(X) + 1  # every row sums past float32's largest value
    assert np.isinf(m.predict(x)).all()
    logs = m.evaluate(x, Y, return_dict=True)
    assert logs["loss"] == np.inf and logs["mae"] == np.inf


def test_fit_on_float64_beyond_float32_fails_by_name_before_any_cast_warning():
    with pytest.raises(ValueError, match=r"beyond the range of the model's dtype float32"):
        overflowing().fit(X.astype(np.float64) * 1e39, Y, verbose=0)


def test_fit_whose_training_overflows_raises_without_warnings():
    m = overflowing()
    m.compile(optimizer="sgd", loss="mse")
    with pytest.raises(nc.NonFiniteLossError):
        m.fit(np.abs(X) + 1, Y, verbose=0)


def test_set_weights_of_a_float64_1e300_fails_by_name_without_a_cast_warning():
    with pytest.raises(ValueError, match=r"beyond the float32 range"):
        overflowing().set_weights([np.full((4, 3), 1e300), np.zeros(3)])


def test_standalone_losses_on_extreme_probabilities_do_not_warn():
    p = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0]])
    assert np.isfinite(nc.losses.binary_crossentropy(Y[:2], p))
    nc.losses.categorical_crossentropy(Y[:2], p + np.array([[0, 0, 1e-300], [0, 0, 0]]))


@pytest.mark.slow
def test_the_bad_input_and_extreme_value_suites_pass_with_runtime_warnings_as_errors():
    """The suites of bad inputs and numerical extremes, run with ``-W error::RuntimeWarning``:
    any RuntimeWarning a public call lets out fails the case that provoked it."""
    suites = [
        "tests/test_bad_input.py",
        "tests/test_reliability_inputs.py",
        "tests/test_reliability_updates.py",
        "tests/test_sample_weight.py",
        "tests/test_no_warnings.py",
    ]
    env = dict(os.environ, PYTHONWARNINGS="error::RuntimeWarning")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-W",
            "error::RuntimeWarning",
            "-m",
            "not slow",
            *suites,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
