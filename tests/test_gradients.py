"""Finite-difference gradient checks in float64 for every layer, activation and loss."""

import numpy as np
import pytest
from helpers import numeric_grad

from netcore.layers import Activation, Dense, Dropout, Flatten
from netcore.models import Sequential

RNG = np.random.default_rng(1234)


def analytic_and_numeric(model, x, y):
    be = model.backend
    xd, yd = be.asarray(x), be.asarray(y)

    def loss():
        value, _, _ = model._loss_and_metrics(xd, yd, training=False)
        return float(value)

    _, grad, _ = model._loss_and_metrics(xd, yd, training=False)
    model._backward(grad)
    analytic = [layer.grads[k].copy() for layer in model.layers for k in layer.params]
    numeric = [numeric_grad(loss, p) for p in model._params()]
    return analytic, numeric


def check(model, x, y, rtol=1e-5, atol=1e-7):
    analytic, numeric = analytic_and_numeric(model, x, y)
    for a, n in zip(analytic, numeric):
        np.testing.assert_allclose(a, n, rtol=rtol, atol=atol)


def targets(loss, n, c):
    if loss == "sparse_categorical_crossentropy":
        return RNG.integers(0, c, n)
    if loss == "categorical_crossentropy":
        return np.eye(c)[RNG.integers(0, c, n)]
    if loss == "binary_crossentropy":
        return RNG.integers(0, 2, (n, c)).astype(float)
    return RNG.normal(size=(n, c))


@pytest.mark.parametrize("hidden", ["linear", "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize(
    "head,loss",
    [
        ("softmax", "categorical_crossentropy"),  # fused path
        ("softmax", "sparse_categorical_crossentropy"),  # fused path, integer labels
        ("sigmoid", "binary_crossentropy"),  # fused path
        ("linear", "mse"),
        ("linear", "rmse"),
        ("sigmoid", "mse"),
        ("softmax", "mse"),  # softmax Jacobian, unfused
        ("relu", "mse"),
        ("tanh", "mse"),
    ],
)
def test_dense_stack(hidden, head, loss):
    n, d, c = 7, 5, 4
    x = RNG.normal(size=(n, d))
    model = Sequential(
        [Dense(6, activation=hidden, input_shape=(d,)), Dense(c, activation=head)],
        backend="cpu",
        seed=3,
        dtype="float64",
    )
    model.compile(loss=loss, optimizer="sgd")
    if hidden == "relu":  # keep pre-activations away from the kink at 0
        w = model.get_weights()
        w[1] = np.full_like(w[1], 0.05)
        model.set_weights(w)
    check(model, x, targets(loss, n, c))


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "binary_crossentropy"])
def test_losses_on_probabilities_unfused(loss):
    """Cross-entropy after a non-matching head takes the clipped probability path."""
    n, d, c = 6, 4, 3
    x = RNG.normal(size=(n, d))
    model = Sequential(
        [
            Dense(c, activation="sigmoid", input_shape=(d,)),
            Activation("sigmoid" if loss == "categorical_crossentropy" else "softmax"),
        ],
        backend="cpu",
        seed=5,
        dtype="float64",
    )
    model.compile(loss=loss, optimizer="sgd")
    y = np.eye(c)[RNG.integers(0, c, n)]
    check(model, x, y)


def test_activation_layer_and_flatten():
    n = 5
    x = RNG.normal(size=(n, 2, 3))
    model = Sequential(
        [
            Flatten(input_shape=(2, 3)),
            Dense(4),
            Activation("tanh"),
            Dense(3),
            Activation("softmax"),
        ],
        backend="cpu",
        seed=0,
        dtype="float64",
    )
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    assert model._loss_takes_logits  # Activation("softmax") + CCE takes the fused head too
    check(model, x, np.eye(3)[RNG.integers(0, 3, n)])


def test_dropout_backward_uses_the_forward_mask():
    model = Sequential(
        [Dense(6, input_shape=(4,)), Dropout(0.5), Dense(2)], backend="cpu", seed=0, dtype="float64"
    )
    model.compile(loss="mse", optimizer="sgd")
    x, y = RNG.normal(size=(5, 4)), RNG.normal(size=(5, 2))
    be = model.backend
    xd, yd = be.asarray(x), be.asarray(y)
    _, grad, _ = model._loss_and_metrics(xd, yd, training=True)
    mask = model.layers[1]._mask.copy()  # type: ignore[attr-defined]
    assert set(np.unique(mask)) <= {0.0, 2.0} and 0 < (mask == 0).mean() < 1
    model._backward(grad)
    analytic = [layer.grads[k].copy() for layer in model.layers for k in layer.params]

    def loss():
        # the same network with the mask frozen, written out by hand
        w1, b1, w2, b2 = model._params()
        h = (x @ w1 + b1) * mask
        return float(np.mean((h @ w2 + b2 - y) ** 2))

    for a, p in zip(analytic, model._params()):
        np.testing.assert_allclose(a, numeric_grad(loss, p), rtol=1e-5, atol=1e-8)
