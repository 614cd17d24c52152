"""The trainer's device-side bookkeeping on backend='cuda' in the simulator: per-sample weights
gathered with the batch on the device train as on the CPU, and an update that would write a
NaN/inf is refused by the kernels and reported from the recorded skip flags."""

from __future__ import annotations

import numpy as np
import pytest

from netcore.backend.cuda import simulator_enabled

pytestmark = pytest.mark.skipif(
    not simulator_enabled(),
    reason="simulator tests: run in a subprocess by tests/sim/test_sim_kernels.py",
)

RNG = np.random.default_rng(4)
X = RNG.normal(size=(13, 5)).astype(np.float32)
W = RNG.uniform(0, 2, 13)


def _model(backend: str, head: str, optimizer=None):
    from netcore import optimizers as O
    from netcore.layers import Dense
    from netcore.models import Sequential

    out = Dense(3, activation="softmax") if head == "softmax" else Dense(2, activation="sigmoid")
    m = Sequential([Dense(8, activation="relu", input_shape=(5,)), out], backend=backend, seed=0)
    loss = "sparse_categorical_crossentropy" if head == "softmax" else "binary_crossentropy"
    m.compile(optimizer=optimizer or O.SGD(0.1), loss=loss, metrics=["accuracy"])
    return m


@pytest.mark.parametrize("head", ["softmax", "sigmoid"])
def test_weighted_fused_heads_train_on_the_simulated_gpu_as_on_the_cpu(head):
    y = (
        RNG.integers(0, 3, 13)
        if head == "softmax"
        else (RNG.random((13, 2)) > 0.5).astype(np.float32)
    )
    cpu, gpu = _model("cpu", head), _model("cuda", head)
    assert gpu.backend.simulated and gpu._loss_takes_logits
    hc = cpu.fit(X, y, batch_size=4, epochs=2, verbose=0, sample_weight=W)
    hg = gpu.fit(X, y, batch_size=4, epochs=2, verbose=0, sample_weight=W)
    np.testing.assert_allclose(hg.history["loss"], hc.history["loss"], rtol=1e-5)
    np.testing.assert_allclose(hg.history["accuracy"], hc.history["accuracy"], rtol=1e-6)
    for wc, wg in zip(cpu.get_weights(), gpu.get_weights()):
        np.testing.assert_allclose(wg, wc, rtol=1e-5, atol=1e-6)


def test_a_diverging_update_is_refused_on_the_simulated_gpu():
    import netcore as nc
    from netcore.layers import Dense
    from netcore.models import Sequential
    from netcore.optimizers import Adam

    m = Sequential(
        [Dense(8, activation="relu", input_shape=(5,)), Dense(1)], backend="cuda", seed=0
    )
    m.compile(optimizer=Adam(1e6), loss="mse")
    y = RNG.normal(size=(13, 1)).astype(np.float32)
    with pytest.raises(nc.NonFiniteLossError, match="update") as exc:
        m.fit(X, y, batch_size=4, epochs=5, verbose=0)
    assert exc.value.cause == "update"
    assert all(np.isfinite(w).all() for w in m.get_weights())
    assert m.optimizer is not None
    assert m.optimizer.iterations == (exc.value.epoch - 1) * 4 + exc.value.step - 1
