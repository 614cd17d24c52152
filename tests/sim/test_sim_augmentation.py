"""The augmentation layers on backend='cuda' in the simulator: the transforms are drawn and
the images warped on the device (the numba.cuda warp kernel), with the CPU layers' results."""

from __future__ import annotations

import numpy as np
import pytest

from netcore.backend.cuda import simulator_enabled

pytestmark = pytest.mark.skipif(
    not simulator_enabled(),
    reason="simulator tests: run in a subprocess by tests/sim/test_sim_kernels.py",
)


def _layers():
    from netcore.layers import RandomFlip, RandomRotation, RandomTranslation, RandomZoom

    return [
        RandomRotation((0.25, 0.25), interpolation="nearest", input_shape=(5, 5, 2)),
        RandomZoom((0.5, 0.5), fill_mode="constant", fill_value=-1.0),
        RandomTranslation((0.2, 0.2), (-0.2, -0.2), fill_mode="wrap"),
        RandomFlip("horizontal", seed=3),
    ]


def test_sim_layers_warp_on_the_device_as_on_the_cpu(monkeypatch):
    from netcore.models import Sequential

    x = np.random.default_rng(0).random((3, 5, 5, 2)).astype(np.float32)
    outs = {}
    for backend in ("cpu", "cuda"):
        model = Sequential(_layers()[:3], backend=backend, seed=0)
        be = model.backend
        launched: list[str] = []
        if backend == "cuda":
            real_get = be.kernels.get  # type: ignore[attr-defined]

            def spy(name, *key, _seen=launched, _get=real_get):
                _seen.append(name)
                return _get(name, *key)

            monkeypatch.setattr(be.kernels, "get", spy)  # type: ignore[attr-defined]
        h = be.asarray(x)
        for layer in model.layers:
            h = layer.forward(h, training=True)
        outs[backend] = be.to_numpy(h)
        if backend == "cuda":
            assert launched == ["affine_warp"] * 3
    np.testing.assert_allclose(outs["cuda"], outs["cpu"], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(
        x, np.random.default_rng(0).random((3, 5, 5, 2)).astype(np.float32)
    )


def test_sim_flip_draws_on_the_device_and_flips_or_keeps():
    from netcore.models import Sequential

    x = np.random.default_rng(1).random((16, 5, 5, 2)).astype(np.float32)
    model = Sequential(_layers()[3:], backend="cuda", seed=0)
    model.build((5, 5, 2))
    y = model.backend.to_numpy(model.layers[0].forward(model.backend.asarray(x), training=True))
    flipped = [np.array_equal(y[i], x[i, :, ::-1]) for i in range(16)]
    kept = [np.array_equal(y[i], x[i]) for i in range(16)]
    assert all(f or k for f, k in zip(flipped, kept)) and any(flipped) and any(kept)
