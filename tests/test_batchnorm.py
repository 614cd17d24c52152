"""BatchNormalization: training and inference against PyTorch (float64, within 1e-10), central
differences, the moving statistics (Keras' biased variance), and what the optimizer may touch."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import numeric_grad

from netcore.layers import BatchNormalization, Dense, Flatten
from netcore.models import Sequential

torch = pytest.importorskip("torch", reason="PyTorch (CPU) is the independent reference")
TOL = 1e-10


def built(layer, shape):
    Sequential([layer], backend="cpu", seed=0, dtype="float64").build(shape)
    return layer


def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


@pytest.mark.parametrize(
    "shape,axis", [((4, 5, 3), -1), ((6,), -1), ((3, 4, 2), 1), ((3, 4, 2), 2)]
)
def test_training_forward_backward_and_moving_stats_match_pytorch(shape, axis):
    rng = np.random.default_rng(0)
    layer = built(BatchNormalization(axis=axis, momentum=0.9, epsilon=1e-3), shape)
    c = layer.params["gamma"].shape[0]
    layer.params["gamma"][...] = rng.normal(size=c)
    layer.params["beta"][...] = rng.normal(size=c)
    layer.state["moving_mean"][...] = rng.normal(size=c)
    layer.state["moving_variance"][...] = rng.random(c) + 0.5
    mm0, mv0 = layer.state["moving_mean"].copy(), layer.state["moving_variance"].copy()
    x = rng.normal(2.0, 3.0, size=(5, *shape))
    dy = rng.normal(size=x.shape)
    y = np.array(layer.forward(x, training=True), copy=True)
    dx = np.array(layer.backward(dy.copy()), copy=True)

    ax = axis % (len(shape) + 1)
    xt = torch.tensor(np.moveaxis(x, ax, 1).copy(), requires_grad=True)  # torch: channels at 1
    g = torch.tensor(layer.params["gamma"].copy(), requires_grad=True)
    b = torch.tensor(layer.params["beta"].copy(), requires_grad=True)
    rm, rv = torch.tensor(mm0), torch.tensor(mv0)
    yt = torch.nn.functional.batch_norm(xt, rm, rv, g, b, training=True, momentum=0.1, eps=1e-3)
    yt.backward(torch.tensor(np.moveaxis(dy, ax, 1).copy()))
    assert rel(y, np.moveaxis(yt.detach().numpy(), 1, ax)) < TOL
    assert rel(dx, np.moveaxis(xt.grad.numpy(), 1, ax)) < TOL
    assert rel(layer.grads["gamma"], g.grad.numpy()) < TOL
    assert rel(layer.grads["beta"], b.grad.numpy()) < TOL
    # moving mean as torch (momentum_torch = 1 - momentum_keras); torch's moving variance
    # takes the unbiased batch variance, Keras' the biased one: m / (m - 1) apart
    m = x.size // c
    assert rel(layer.state["moving_mean"], rm.numpy()) < TOL
    unbiased = (rv.numpy() - 0.9 * mv0) / 0.1
    assert rel(layer.state["moving_variance"], 0.9 * mv0 + 0.1 * unbiased * (m - 1) / m) < TOL


def test_inference_uses_the_moving_statistics_and_updates_nothing():
    rng = np.random.default_rng(1)
    layer = built(BatchNormalization(epsilon=1e-2), (3, 3, 4))
    for k in ("gamma", "beta"):
        layer.params[k][...] = rng.normal(size=4)
    layer.state["moving_mean"][...] = rng.normal(size=4)
    layer.state["moving_variance"][...] = rng.random(4) + 0.1
    before = [w.copy() for w in layer.get_weights()]
    x = rng.normal(size=(2, 3, 3, 4))
    y = layer.forward(x, training=False)
    g, b, mm, mv = before
    np.testing.assert_allclose(y, g * (x - mm) / np.sqrt(mv + 1e-2) + b, rtol=1e-13)
    for w0, w1 in zip(before, layer.get_weights()):
        np.testing.assert_array_equal(w0, w1)


def test_moving_statistics_follow_keras_update_every_training_step():
    rng = np.random.default_rng(2)
    layer = built(BatchNormalization(), (2, 2, 3))
    mm, mv = np.zeros(3), np.ones(3)
    for _ in range(3):
        x = rng.normal(1.0, 2.0, size=(4, 2, 2, 3))
        layer.forward(x, training=True)
        rows = x.reshape(-1, 3)
        mm = mm * 0.99 + rows.mean(0) * 0.01
        mv = mv * 0.99 + rows.var(0) * 0.01  # biased, as Keras
    np.testing.assert_allclose(layer.state["moving_mean"], mm, rtol=1e-13)
    np.testing.assert_allclose(layer.state["moving_variance"], mv, rtol=1e-13)


@pytest.mark.parametrize(
    "center,scale", [(True, True), (False, True), (True, False), (False, False)]
)
def test_gradients_match_central_differences(center, scale):
    layer = built(BatchNormalization(center=center, scale=scale), (3, 2, 3))
    rng = np.random.default_rng(3)
    for p in layer.params.values():
        p[...] = rng.normal(size=p.shape)
    x = rng.normal(size=(2, 3, 2, 3))
    r = rng.normal(size=x.shape)

    def f():
        return float(np.sum(layer.forward(x, training=True) * r))

    f()
    dx = np.array(layer.backward(r.copy()), copy=True)
    np.testing.assert_allclose(dx, numeric_grad(f, x), rtol=1e-6, atol=1e-8)
    for k, p in layer.params.items():
        f()
        layer.backward(r.copy())
        np.testing.assert_allclose(layer.grads[k], numeric_grad(f, p), rtol=1e-6, atol=1e-8)
    assert len(layer.get_weights()) == int(center) + int(scale) + 2


def test_weights_order_counts_and_the_optimizer_never_touches_moving_stats():
    m = Sequential(
        [BatchNormalization(input_shape=(4, 4, 2)), Flatten(), Dense(3, activation="softmax")],
        backend="cpu",
        seed=0,
        dtype="float64",
    )
    bn = m.layers[0]
    assert [w.shape for w in bn.get_weights()] == [(2,)] * 4
    np.testing.assert_array_equal(bn.get_weights()[3], np.ones(2))  # moving_variance last
    assert bn.count_params() == 8 and bn.count_trainable() == 4
    lines: list[str] = []
    m.summary(print_fn=lines.append)
    assert "Non-trainable params: 4" in lines
    assert m._flat_params.size == 4 + 32 * 3 + 3  # moving stats are not in the flat buffer
    m.compile(optimizer="adam", loss="categorical_crossentropy")
    x = np.random.default_rng(0).normal(size=(8, 4, 4, 2))
    y = np.eye(3)[np.arange(8) % 3]
    m.fit(x, y, epochs=1, batch_size=8, verbose=0, shuffle=False)
    rows = x.reshape(-1, 2)
    np.testing.assert_allclose(bn.state["moving_mean"], 0.01 * rows.mean(0), rtol=1e-12)
    np.testing.assert_allclose(bn.state["moving_variance"], 0.99 + 0.01 * rows.var(0), rtol=1e-12)


@pytest.mark.parametrize("axis", [0, 4, -5, 7])
def test_an_axis_that_does_not_exist_is_refused(axis):
    with pytest.raises(ValueError, match=rf"axis={axis} does not exist .*\(batch, \*\(3, 3, 2\)\)"):
        Sequential([BatchNormalization(axis=axis, input_shape=(3, 3, 2))], backend="cpu")
