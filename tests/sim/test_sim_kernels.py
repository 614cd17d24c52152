"""Every fused CUDA kernel against the NumPy reference, in numba's CUDA simulator.

Runs only with NUMBA_ENABLE_CUDASIM=1 set before numba is imported; tests/test_kernels_sim.py
starts this module in such a subprocess during the normal test run.
"""
from __future__ import annotations

import numpy as np
import pytest

import kernel_cases as kc
from netcore.backend.cuda import simulator_enabled

pytestmark = pytest.mark.skipif(
    not simulator_enabled(),
    reason="simulator tests: run through tests/test_kernels_sim.py (NUMBA_ENABLE_CUDASIM=1)")


@pytest.fixture(scope="module")
def be():
    import netcore as nc

    b = nc.get_backend("cuda", seed=0)
    assert b.simulated and "SIMULATED" in b.describe()
    assert b.launch_path == "sim"
    return b


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("family", sorted(kc.ALL_CHECKS))
def test_sim_kernel_matches_reference(be, family, dtype):
    kc.check_with_fresh_seed(family, be, dtype)


def test_every_fused_op_launches_a_simulated_kernel(be, monkeypatch):
    """The fused ops really go through the numba.cuda kernels (not the reference)."""
    launched: list[str] = []
    real_get = be.kernels.get

    def spy(name, *key):
        launched.append(name)
        return real_get(name, *key)

    monkeypatch.setattr(be.kernels, "get", spy)
    rng = np.random.default_rng(0)
    kc.check_bias_act(be, rng, np.float32, shapes=[(2, 3)])
    kc.check_bias_act_grad(be, rng, np.float32, shapes=[(2, 3)])
    kc.check_softmax_xent(be, rng, np.float32, shapes=[(2, 3)])
    kc.check_sigmoid_bce(be, rng, np.float32, shapes=[(2, 3)])
    kc.check_optimizers(be, rng, np.float32, shapes=[(4,)])
    assert set(launched) == set(be.kernels.names)
    assert set(be.fused_ops) >= {"bias_act", "bias_act_grad", "softmax_xent", "sigmoid_bce",
                                 "sgd_update", "adam_update", "rmsprop_update", "adagrad_update"}


def test_sim_loss_reduction_over_many_blocks(be):
    """More rows than blocks and more elements than one block: the grid-wide finish."""
    rng = np.random.default_rng(5)
    kc.check_softmax_xent(be, rng, np.float32, shapes=[(9, 3)])
    kc.check_sigmoid_bce(be, rng, np.float64, shapes=[(7, 40)])
    # the ticket counter is reset by the last block: a second call must be right too
    kc.check_sigmoid_bce(be, rng, np.float64, shapes=[(7, 40)])
    assert int(be._counter[0]) == 0
    # backward with db over several row chunks (grid.y > 1), twice: tickets must reset
    for _ in range(2):
        kc.check_bias_act_grad(be, rng, np.float32, shapes=[(70, 9)])
    assert be._grid_cols(70, 9)[0][1] > 1
    assert not be._col_scratch(9)[1].any()


def test_sim_four_wide_loops_and_their_tails(be):
    """Shapes long enough that every 4-wide loop runs its unrolled body AND its remainder:
    forward and backward rows (float64: tight tolerance, db summed in row order),
    sigmoid_bce elements, softmax columns."""
    rng = np.random.default_rng(11)
    assert be._grid_tiles(70, 9)[0][1] * be._tile_block[1] * 4 < 70  # forward: >= 1 full iteration
    kc.check_bias_act(be, rng, np.float64, shapes=[(70, 9)])
    kc.check_bias_act_grad(be, rng, np.float64, shapes=[(70, 9), (71, 5)])
    kc.check_sigmoid_bce(be, rng, np.float32, shapes=[(7, 41)])
    kc.check_softmax_xent(be, rng, np.float64, shapes=[(2, 53)])
