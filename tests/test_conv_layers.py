"""Conv2D, pooling, Reshape and Dense on images: forward and backward against PyTorch (float64,
within 1e-10; Keras' "same" padding mapped to an explicit F.pad) and central differences."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import numeric_grad

from netcore.backend.conv_ops import make_window
from netcore.layers import (
    AveragePooling2D,
    Conv2D,
    Dense,
    Flatten,
    GlobalAveragePooling2D,
    MaxPool2D,
    MaxPooling2D,
    Reshape,
)
from netcore.models import Sequential

torch = pytest.importorskip("torch", reason="PyTorch (CPU) is the independent reference")
F = torch.nn.functional
TOL = 1e-10


def built(layer, shape, backend="cpu"):
    """``layer`` built inside a float64 model (it needs a backend and a dtype)."""
    Sequential([layer], backend=backend, seed=3, dtype="float64").build(shape)
    return layer


def run(layer, x, dy):
    """Forward (training) and backward of a lone layer: ``(y, dx)``."""
    y = np.array(layer.forward(x.copy(), training=True), copy=True)
    dx = layer.backward(dy.copy(), need_dx=True)
    return y, np.array(dx, copy=True)


def torch_pads(shape, size, strides, padding):
    """F.pad's ``(left, right, top, bottom)`` for Keras' padding of an NCHW tensor."""
    win = make_window(shape[0], shape[1], size, strides, padding)
    bottom = max((win.ho - 1) * win.sh + win.kh - shape[0] - win.pt, 0)
    right = max((win.wo - 1) * win.sw + win.kw - shape[1] - win.pl, 0)
    return (win.pl, right, win.pt, bottom)


def nchw(a):
    return torch.tensor(np.ascontiguousarray(a.transpose(0, 3, 1, 2)), requires_grad=True)


def nhwc(t):
    return t.detach().numpy().transpose(0, 2, 3, 1)


def rel(a, b):
    return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))


CONV_CASES = [
    # (input (h, w, c), filters, kernel, strides, padding, activation)
    ((28, 28, 1), 4, (3, 3), (1, 1), "same", "relu"),
    ((7, 7, 3), 5, (3, 3), (2, 2), "same", "linear"),
    ((8, 6, 2), 3, (3, 2), (2, 1), "same", "tanh"),
    ((6, 7, 3), 2, (4, 3), (1, 2), "valid", "sigmoid"),
    ((5, 5, 4), 3, (1, 1), (1, 1), "valid", "relu"),  # pointwise: no im2col
    ((5, 5, 4), 3, (2, 2), (3, 3), "same", "linear"),  # stride > kernel
]


@pytest.mark.parametrize("shape,filters,kernel,strides,padding,act", CONV_CASES)
def test_conv2d_forward_and_backward_match_pytorch(shape, filters, kernel, strides, padding, act):
    rng = np.random.default_rng(0)
    layer = built(Conv2D(filters, kernel, strides, padding, activation=act), shape)
    layer.params["bias"][...] = rng.normal(size=filters)
    x = rng.normal(size=(3, *shape))
    y_shape = (3, *layer.output_shape)
    dy = rng.normal(size=y_shape)
    y, dx = run(layer, x, dy)

    xt = nchw(x)
    w = torch.tensor(layer.params["kernel"].transpose(3, 2, 0, 1).copy(), requires_grad=True)
    b = torch.tensor(layer.params["bias"].copy(), requires_grad=True)
    z = F.conv2d(F.pad(xt, torch_pads(shape, kernel, strides, padding)), w, b, stride=strides)
    yt = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid}.get(act, lambda t: t)(z)
    yt.backward(torch.tensor(dy.transpose(0, 3, 1, 2).copy()))
    assert y.shape == y_shape
    assert rel(y, nhwc(yt)) < TOL
    assert rel(dx, nhwc(xt.grad)) < TOL
    assert rel(layer.grads["kernel"], w.grad.numpy().transpose(2, 3, 1, 0)) < TOL
    assert rel(layer.grads["bias"], b.grad.numpy()) < TOL


@pytest.mark.parametrize(
    "shape,size,strides,padding",
    [
        ((7, 7, 3), (2, 2), None, "same"),  # 7 -> 4, the course's last pool
        ((28, 28, 2), (2, 2), (2, 2), "same"),
        ((6, 5, 2), (3, 3), (2, 2), "valid"),
        ((6, 6, 2), (3, 3), (1, 1), "same"),  # overlapping windows
        ((5, 7, 1), (2, 3), (1, 2), "same"),
    ],
)
@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_forward_and_backward_match_pytorch(shape, size, strides, padding, kind):
    rng = np.random.default_rng(1)
    cls = MaxPooling2D if kind == "max" else AveragePooling2D
    layer = built(cls(size, strides, padding), shape)
    x = rng.normal(size=(2, *shape))
    dy = rng.normal(size=(2, *layer.output_shape))
    y, dx = run(layer, x, dy)

    s = size if strides is None else strides
    pads = torch_pads(shape, size, s, padding)
    xt = nchw(x)
    if kind == "max":
        yt = F.max_pool2d(F.pad(xt, pads, value=-np.inf), size, s)
    else:  # Keras divides by the real (non-padding) inputs of each window
        ones = torch.ones_like(xt)
        yt = F.avg_pool2d(F.pad(xt, pads), size, s) / F.avg_pool2d(F.pad(ones, pads), size, s)
    yt.backward(torch.tensor(dy.transpose(0, 3, 1, 2).copy()))
    if strides is None and padding == "same":
        assert layer.output_shape == (4, 4, 3)
    assert rel(y, nhwc(yt)) < TOL
    assert rel(dx, nhwc(xt.grad)) < TOL


def test_max_pool_gradient_goes_to_the_first_of_tied_maxima():
    layer = built(MaxPool2D((2, 2)), (4, 4, 1))
    x = np.zeros((1, 4, 4, 1))  # every window all zeros (ReLU's dead units): a 4-way tie
    x[0, 2, 3, 0] = x[0, 3, 2, 0] = 5.0  # a 2-way tie in the last window
    y, dx = run(layer, x, np.ones((1, 2, 2, 1)))
    want = np.zeros((4, 4))
    want[0, 0] = want[0, 2] = want[2, 0] = 1.0  # top-left of each all-zero window
    want[2, 3] = 1.0  # (2, 3) comes before (3, 2) in row-major order
    np.testing.assert_array_equal(dx[0, :, :, 0], want)
    np.testing.assert_array_equal(y[0, :, :, 0], [[0, 0], [0, 5]])
    assert dx.sum() == 4  # one input per window, never every tied one


def test_global_average_pooling_forward_backward():
    rng = np.random.default_rng(2)
    layer = built(GlobalAveragePooling2D(), (3, 4, 5))
    x = rng.normal(size=(2, 3, 4, 5))
    dy = rng.normal(size=(2, 5))
    y, dx = run(layer, x, dy)
    xt = torch.tensor(x, requires_grad=True)
    yt = xt.mean(dim=(1, 2))
    yt.backward(torch.tensor(dy))
    assert rel(y, yt.detach().numpy()) < TOL
    assert rel(dx, xt.grad.numpy()) < TOL


def test_reshape_and_dense_on_images():
    rng = np.random.default_rng(4)
    m = Sequential(
        [Reshape((4, -1), input_shape=(2, 6)), Dense(3, activation="tanh"), Flatten()],
        backend="cpu",
        seed=0,
        dtype="float64",
    )
    assert m.layers[0].output_shape == (4, 3)
    assert m.layers[1].output_shape == (4, 3)  # Dense acts on the last axis, as Keras
    assert m.layers[1].params["kernel"].shape == (3, 3)
    x = rng.normal(size=(5, 2, 6))
    y = m.predict(x, verbose=0)
    k, b = m.layers[1].params["kernel"], m.layers[1].params["bias"]
    np.testing.assert_allclose(y, np.tanh(x.reshape(5, 4, 3) @ k + b).reshape(5, 12), rtol=1e-12)


def fd_layer(layer, x, training=True):
    """Analytic and central-difference gradients of ``sum(forward(x) * r)`` for ``x`` and
    every trainable weight of a lone layer."""
    r = np.random.default_rng(9).normal(size=(x.shape[0], *layer.output_shape))

    def f():
        return float(np.sum(layer.forward(x, training=training) * r))

    f()
    dx = np.array(layer.backward(r.copy(), need_dx=True), copy=True)
    analytic = [dx] + [np.array(layer.grads[k], copy=True) for k in layer.params]
    numeric = [numeric_grad(f, x)] + [numeric_grad(f, p) for p in layer.params.values()]
    return analytic, numeric


@pytest.mark.parametrize(
    "make,shape",
    [
        (lambda: Conv2D(2, 3, padding="same", activation="tanh"), (5, 4, 2)),
        (lambda: Conv2D(2, (2, 3), strides=2, padding="valid"), (5, 6, 2)),
        (lambda: AveragePooling2D(2, padding="same"), (5, 3, 2)),
        (lambda: MaxPooling2D(3, 2, padding="same"), (5, 5, 2)),
    ],
)
def test_layer_gradients_match_central_differences(make, shape):
    layer = built(make(), shape)
    x = np.random.default_rng(5).normal(size=(2, *shape))
    for a, n in zip(*fd_layer(layer, x)):
        np.testing.assert_allclose(a, n, rtol=1e-6, atol=1e-8)


def test_conv_kernel_glorot_fans_are_keras():
    layer = built(Conv2D(8, (3, 3)), (10, 10, 4))
    limit = np.sqrt(6.0 / (3 * 3 * 4 + 3 * 3 * 8))
    k = layer.params["kernel"]
    assert k.shape == (3, 3, 4, 8)
    assert np.abs(k).max() <= limit and np.abs(k).max() > 0.9 * limit
