"""The course's convolutional network: its summary, a 20-step RMSprop run in lockstep with the
same network in PyTorch (float64, same dropout masks), save/load, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from netcore import load_model
from netcore.layers import (
    BatchNormalization,
    Conv2D,
    Dense,
    Dropout,
    Flatten,
    MaxPool2D,
    MaxPooling2D,
)
from netcore.models import Sequential


def course_network(classes=24, **kw):
    return Sequential(
        [
            Conv2D(
                75, (3, 3), strides=1, padding="same", activation="relu", input_shape=(28, 28, 1)
            ),
            BatchNormalization(),
            MaxPool2D((2, 2), strides=2, padding="same"),
            Conv2D(50, (3, 3), strides=1, padding="same", activation="relu"),
            Dropout(0.2),
            BatchNormalization(),
            MaxPool2D((2, 2), strides=2, padding="same"),
            Conv2D(25, (3, 3), strides=1, padding="same", activation="relu"),
            BatchNormalization(),
            MaxPool2D((2, 2), strides=2, padding="same"),
            Flatten(),
            Dense(units=512, activation="relu"),
            Dropout(0.3),
            Dense(units=classes, activation="softmax"),
        ],
        **kw,
    )


def test_course_network_summary_counts_are_keras():
    m = course_network(backend="cpu", seed=0)
    lines: list[str] = []
    m.summary(print_fn=lines.append)
    assert "Total params: 264,049" in lines
    assert "Trainable params: 263,749" in lines
    assert "Non-trainable params: 300" in lines
    assert m.layers[9].output_shape == (4, 4, 25)  # 7 -> 4 with "same"
    assert m.count_params() == 264_049


def small_cnn(dropout):
    return Sequential(
        [
            Conv2D(4, 3, padding="same", activation="relu", input_shape=(8, 8, 2)),
            BatchNormalization(),
            MaxPooling2D(2, padding="same"),
            Conv2D(3, 2, strides=2, padding="valid", activation="relu"),
            Dropout(dropout),
            BatchNormalization(momentum=0.9),
            Flatten(),
            Dense(6, activation="relu"),
            Dropout(dropout),
            Dense(3, activation="softmax"),
        ],
        backend="cpu",
        seed=7,
        dtype="float64",
    )


def torch_mirror(model):
    """The same network in PyTorch (NCHW inside), with netcore's weights."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    ws = [torch.tensor(w.copy()) for w in model.get_weights()]
    k1, b1, g1, be1, mm1, mv1, k2, b2, g2, be2, mm2, mv2, kd, bd, ko, bo = ws
    params = [k1, b1, g1, be1, k2, b2, g2, be2, kd, bd, ko, bo]
    for p in params:
        p.requires_grad_(True)
    conv_w = lambda k: k.permute(3, 2, 0, 1)  # noqa: E731  (kh, kw, in, out) -> (out, in, kh, kw)

    def forward(x, masks):
        h = torch.relu(F.conv2d(F.pad(x, (1, 1, 1, 1)), conv_w(k1), b1))
        h = F.batch_norm(h, mm1, mv1, g1, be1, training=True, momentum=0.01, eps=1e-3)
        h = F.max_pool2d(h, 2)
        h = torch.relu(F.conv2d(h, conv_w(k2), b2, stride=2))
        h = h * masks[0]
        h = F.batch_norm(h, mm2, mv2, g2, be2, training=True, momentum=0.1, eps=1e-3)
        h = h.permute(0, 2, 3, 1).reshape(h.shape[0], -1)  # Flatten in NHWC order
        h = torch.relu(h @ kd + bd) * masks[1]
        return h @ ko + bo  # logits

    return params, forward, (mm1, mm2)


@pytest.mark.parametrize("rate", [0.0, 0.4])
def test_twenty_rmsprop_steps_agree_with_pytorch_step_by_step(rate):
    torch = pytest.importorskip("torch", reason="PyTorch (CPU) is the independent reference")
    model = small_cnn(rate)
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    opt = model.optimizer
    params, forward, moving_means = torch_mirror(model)
    sq = [torch.zeros_like(p) for p in params]
    rng = np.random.default_rng(0)
    drops = [layer for layer in model.layers if isinstance(layer, Dropout)]
    for step in range(20):
        x = rng.normal(size=(6, 8, 8, 2))
        y = np.eye(3)[rng.integers(0, 3, 6)]
        loss = model.train_on_batch(x, y)["loss"]
        # the masks netcore drew this step (identity when rate is 0)
        masks = [
            torch.tensor(np.moveaxis(d._mask, -1, 1).copy() if d._mask.ndim == 4 else d._mask)
            if d._mask is not None
            else torch.tensor(1.0, dtype=torch.float64)
            for d in drops
        ]
        logits = forward(torch.tensor(x.transpose(0, 3, 1, 2).copy()), masks)
        t_loss = -(torch.tensor(y) * torch.log_softmax(logits, 1)).sum(1).mean()
        grads = torch.autograd.grad(t_loss, params)
        with (
            torch.no_grad()
        ):  # Keras 3 RMSprop: v = rho v + (1 - rho) g^2; w -= lr g / sqrt(v + eps)
            for p, g, v in zip(params, grads, sq):
                v.mul_(opt.rho).add_((1 - opt.rho) * g * g)
                p.sub_(opt.learning_rate * g / torch.sqrt(v + opt.epsilon))
        want = float(t_loss.detach())
        assert abs(loss - want) < 1e-10 * max(1.0, abs(want)), step
    # every weight, the moving statistics included, after 20 steps
    order = [0, 1, 2, 3, None, None, 4, 5, 6, 7, None, None, 8, 9, 10, 11]
    for w, i in zip(model.get_weights(), order):
        if i is not None:
            np.testing.assert_allclose(w, params[i].detach().numpy(), rtol=1e-9, atol=1e-11)
    # torch's moving mean follows the same rule (its moving variance takes the unbiased one)
    for bn, mm in zip([model.layers[1], model.layers[5]], moving_means):
        np.testing.assert_allclose(bn.state["moving_mean"], mm.numpy(), rtol=1e-9, atol=1e-12)


def test_dropout_on_images_drops_elements_and_scales_the_rest():
    m = Sequential([Dropout(0.5, input_shape=(4, 4, 3))], backend="cpu", seed=1, dtype="float64")
    d = m.layers[0]
    x = np.ones((50, 4, 4, 3))
    y = d.forward(x, training=True)
    assert set(np.unique(y)) == {0.0, 2.0}
    assert 0.4 < (y == 0).mean() < 0.6
    dx = d.backward(np.ones_like(x))
    np.testing.assert_array_equal(dx, y)  # the same mask on the way back
    np.testing.assert_array_equal(d.forward(x, training=False), x)


def test_save_and_load_round_trip_keeps_predictions_and_moving_statistics(tmp_path):
    m = small_cnn(0.2)
    m.compile(optimizer="rmsprop", loss="categorical_crossentropy")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, 8, 8, 2))
    y = np.eye(3)[rng.integers(0, 3, 12)]
    m.fit(x, y, epochs=2, batch_size=4, verbose=0)
    assert not np.allclose(m.layers[1].state["moving_mean"], 0)
    m.save(tmp_path / "cnn.netcore")
    loaded = load_model(tmp_path / "cnn.netcore")
    for a, b in zip(m.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(m.predict(x, verbose=0), loaded.predict(x, verbose=0))
    clone = Sequential.from_config(m.get_config())
    assert [type(a) for a in clone.layers] == [type(b) for b in m.layers]
    assert clone.get_config()["layers"] == m.get_config()["layers"]


# ---------------------------------------------------------------- bad input
def test_a_batch_of_images_without_channel_axis_is_told_to_add_it():
    m = Sequential([Conv2D(2, 3, input_shape=(28, 28, 1)), Flatten(), Dense(2)], backend="cpu")
    m.compile(loss="mse")
    with pytest.raises(ValueError, match=r"without their channel axis.*x\[\.\.\., None\]"):
        m.predict(np.zeros((4, 28, 28)), verbose=0)
    with pytest.raises(ValueError, match=r"x\[\.\.\., None\], and input_shape=\(28, 28, 1\)"):
        Sequential([Conv2D(2, 3, input_shape=(28, 28))], backend="cpu")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(filters=0, kernel_size=3), r"filters must be a positive integer, received filters=0"),
        (dict(filters=-2, kernel_size=3), r"received filters=-2"),
        (dict(filters=2, kernel_size=0), r"kernel_size must be .* received kernel_size=0"),
        (dict(filters=2, kernel_size=(3, -1)), r"received kernel_size=\(3, -1\)"),
        (dict(filters=2, kernel_size=3, strides=0), r"strides must be .* received strides=0"),
        (
            dict(filters=2, kernel_size=3, padding="full"),
            r"padding must be one of \['valid', 'same'\], received padding='full'",
        ),
        (
            dict(filters=2, kernel_size=3, dilation_rate=2),
            r"dilation_rate=\(1, 1\) only, received dilation_rate=2",
        ),
        (dict(filters=2, kernel_size=3, groups=2), r"groups=1 only, received groups=2"),
    ],
)
def test_conv2d_refuses_bad_arguments_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Conv2D(**kwargs)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(pool_size=0), r"pool_size must be .* received pool_size=0"),
        (dict(pool_size=2, strides=(1, 0)), r"received strides=\(1, 0\)"),
        (dict(padding="causal"), r"received padding='causal'"),
    ],
)
def test_pooling_refuses_bad_arguments_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        MaxPooling2D(**kwargs)


def test_a_kernel_larger_than_the_input_is_refused():
    with pytest.raises(ValueError, match=r"kernel_size=\(5, 5\) is larger than the input \(4, 4\)"):
        Sequential([Conv2D(2, 5, input_shape=(4, 4, 1))], backend="cpu")
    with pytest.raises(ValueError, match=r"pool_size=\(3, 3\) is larger than the input \(2, 2\)"):
        Sequential([MaxPooling2D(3, input_shape=(2, 2, 1))], backend="cpu")
    # with "same" padding any kernel fits: out = ceil(in / stride)
    m = Sequential([Conv2D(2, 5, padding="same", input_shape=(4, 4, 1))], backend="cpu")
    assert m.output_shape == (4, 4, 2)


def test_captured_cnn_fit_matches_eager_with_the_moving_statistics(monkeypatch):
    """The captured step (jit_compile) with a CPU stand-in for the graph runtime replays the
    CNN's step (convolution, batch norm and its moving statistics, pooling, dropout) exactly
    as the eager fit runs it."""
    from test_capture import ReplayingRuntime

    from netcore.training import capture

    rt = ReplayingRuntime()
    monkeypatch.setattr(capture, "backend_can_capture", lambda be: (True, "stand-in"))
    monkeypatch.setattr(capture, "runtime_of", lambda be: rt)
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 8, 8, 2)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 40)]
    runs = {}
    for mode in ("auto", False):
        m = small_cnn(0.3)
        m.compile(optimizer="rmsprop", loss="categorical_crossentropy", jit_compile=mode)
        runs[mode] = (m.fit(x, y, batch_size=8, epochs=2, verbose=0).history, m.get_weights())
    assert rt.replays > 0
    assert runs["auto"][0] == runs[False][0]
    for a, b in zip(runs["auto"][1], runs[False][1]):
        np.testing.assert_array_equal(a, b)
