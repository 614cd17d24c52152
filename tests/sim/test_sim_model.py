"""A tiny model trained with backend='cuda' in the simulator matches backend='cpu' step by step.

Every optimizer, softmax and sigmoid heads: the whole CUDA dispatch path (layers -> backend
-> numba.cuda kernels) against the CPU backend, within float32 tolerance.
"""

from __future__ import annotations

import numpy as np
import pytest

from netcore.backend.cuda import simulator_enabled

pytestmark = pytest.mark.skipif(
    not simulator_enabled(),
    reason="simulator tests: run in a subprocess by tests/sim/test_sim_kernels.py",
)

OPTIMIZERS = {  # name -> (optimizer name, keyword arguments) for netcore.optimizers.get
    "sgd": ("sgd", dict(learning_rate=0.1)),
    "sgd-nesterov": ("sgd", dict(learning_rate=0.05, momentum=0.9, nesterov=True)),
    "adam": ("adam", dict(learning_rate=0.01)),
    "rmsprop-momentum": ("rmsprop", dict(learning_rate=0.01, momentum=0.5)),
    "adagrad": ("adagrad", dict(learning_rate=0.1)),
}


def _model(backend: str, head: str, opt: str):
    from netcore import optimizers
    from netcore.layers import Dense
    from netcore.models import Sequential

    out = Dense(3, activation="softmax") if head == "softmax" else Dense(2, activation="sigmoid")
    m = Sequential(
        [Dense(8, activation="relu", input_shape=(5,)), Dense(6, activation="tanh"), out],
        backend=backend,
        seed=0,
    )
    loss = "categorical_crossentropy" if head == "softmax" else "binary_crossentropy"
    name, kwargs = OPTIMIZERS[opt]
    m.compile(optimizer=optimizers.get(name, **kwargs), loss=loss)
    return m


@pytest.mark.parametrize("head", ["softmax", "sigmoid"])
@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_cuda_sim_training_matches_cpu_step_by_step(head, opt):
    pytest.importorskip("netcore.models")
    rng = np.random.default_rng(11)
    x = rng.normal(size=(13, 5)).astype(np.float32)  # 13: not a multiple of any block
    if head == "softmax":
        y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 13)]
    else:
        y = (rng.random((13, 2)) > 0.5).astype(np.float32)
    cpu, gpu = _model("cpu", head, opt), _model("cuda", head, opt)
    # Adaptive optimizers divide by sqrt(v): a last-bit gradient difference (the two backends
    # sum in different orders) in an element whose |g| is near epsilon moves that weight by
    # up to ~1e-3 * lr. Plain SGD passes gradients through linearly: float32 ulps only.
    atol = 1e-6 if opt.startswith("sgd") else 5e-5
    assert gpu.backend.simulated
    for wc, wg in zip(cpu.get_weights(), gpu.get_weights()):
        np.testing.assert_array_equal(np.asarray(wc), np.asarray(wg))
    for step in range(3):
        lc, lg = cpu.train_on_batch(x, y), gpu.train_on_batch(x, y)
        np.testing.assert_allclose(lg["loss"], lc["loss"], rtol=1e-5, err_msg=f"step {step} loss")
        for k, (wc, wg) in enumerate(zip(cpu.get_weights(), gpu.get_weights())):
            np.testing.assert_allclose(
                np.asarray(wg),
                np.asarray(wc),
                rtol=1e-5,
                atol=atol,
                err_msg=f"step {step} weight {k}",
            )
