"""Every fused CUDA kernel against the NumPy reference, in numba's CUDA simulator.

The simulator must be switched on (NUMBA_ENABLE_CUDASIM=1) before numba.cuda is first
imported, so these tests run in their own interpreter: ``tests/test_simulator_suite.py``
starts one per file of tests/sim with the variable set.
"""

from __future__ import annotations

from pathlib import Path

import kernel_cases
import numpy as np
import pytest

from netcore.backend.cuda import simulator_enabled
from netcore.kernels import FUSED_OPS, SPECS

ROOT = Path(__file__).resolve().parents[2]
needs_sim = pytest.mark.skipif(
    not simulator_enabled(),
    reason="simulator tests: run with NUMBA_ENABLE_CUDASIM=1 (tests/test_simulator_suite.py)",
)


@pytest.fixture(scope="module")
def be():

    from netcore.backend.cuda import CudaBackend

    b = CudaBackend(seed=0)
    assert b.simulated and "SIMULATED" in b.describe()
    assert b.launch_path == "sim"
    return b


@needs_sim
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kernel", sorted(kernel_cases.ALL_CHECKS))
def test_sim_kernel_matches_reference(be, kernel, dtype):
    small = (
        {"shapes": [(1, 1), (33, 17), (3, 257)]}
        if kernel in ("softmax_xent", "sigmoid_bce")
        else {}
    )
    kernel_cases.check_with_fresh_seed(kernel, be, dtype, **small)


@needs_sim
def test_every_fused_op_launches_a_simulated_kernel(be, monkeypatch):
    """The fused ops really go through the numba.cuda kernels (not the reference)."""
    launched: list[str] = []
    real_get = be.kernels.get

    def spy(name, *key):
        launched.append(name)
        return real_get(name, *key)

    monkeypatch.setattr(be.kernels, "get", spy)
    rng = np.random.default_rng(0)
    for name, check in kernel_cases.ALL_CHECKS.items():
        check(be, rng, np.float32, shapes=[(4,)] if name.endswith("_update") else [(2, 3)])
    assert set(launched) == set(be.kernels.names) == set(SPECS)
    assert be.fused_ops == FUSED_OPS


@needs_sim
def test_sim_loss_reduction_over_many_blocks(be):
    """More rows than blocks and more elements than one block: the grid-wide finish."""
    rng = np.random.default_rng(5)
    kernel_cases.check_softmax_xent(be, rng, np.float32, shapes=[(9, 3)])
    kernel_cases.check_sigmoid_bce(be, rng, np.float64, shapes=[(7, 40)])
    # the ticket counter is reset by the last block: a second call must be right too
    kernel_cases.check_sigmoid_bce(be, rng, np.float64, shapes=[(7, 40)])
    assert int(be._counter[0]) == 0
    # backward with db over several row chunks (grid.y > 1), twice: tickets must reset
    for _ in range(2):
        kernel_cases.check_bias_act_grad(be, rng, np.float32, shapes=[(70, 9)])
    assert be._grid_cols(70, 9)[0][1] > 1
    assert not be._col_scratch(9)[1].any()


@needs_sim
def test_sim_four_wide_loops_and_their_tails(be):
    """Shapes long enough that every 4-wide loop runs its unrolled body AND its remainder:
    forward and backward rows (float64: tight tolerance, db summed in row order),
    sigmoid_bce elements, softmax columns."""
    rng = np.random.default_rng(11)
    assert be._grid_tiles(70, 9)[0][1] * be._tile_block[1] * 4 < 70  # forward: >= 1 full iteration
    kernel_cases.check_bias_act(be, rng, np.float64, shapes=[(70, 9)])
    kernel_cases.check_bias_act_grad(be, rng, np.float64, shapes=[(70, 9), (71, 5)])
    kernel_cases.check_sigmoid_bce(be, rng, np.float32, shapes=[(7, 41)])
    kernel_cases.check_softmax_xent(be, rng, np.float64, shapes=[(2, 53)])
