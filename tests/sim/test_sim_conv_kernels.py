"""The convolution, pooling and batch-norm kernels in numba's CUDA simulator, past the cases
of kernel_cases: batch norm's per-channel sums over several row chunks (the last-chunk
finish and its ticket reset), pooling and im2col over more elements than the grid holds."""

from __future__ import annotations

from typing import Any

import kernel_cases
import numpy as np
import pytest

from netcore.backend.cuda import simulator_enabled

pytestmark = pytest.mark.skipif(
    not simulator_enabled(),
    reason="simulator tests: run with NUMBA_ENABLE_CUDASIM=1 (tests/test_simulator_suite.py)",
)


@pytest.fixture(scope="module")
def be() -> Any:
    from netcore.backend.cuda import CudaBackend

    return CudaBackend(seed=0)


def test_sim_batch_norm_sums_over_several_row_chunks_twice(be: Any) -> None:
    rng = np.random.default_rng(3)
    m, c = 70, 9
    assert be._grid_cols(m, c)[0][1] > 1  # several row chunks: partials and a ticket
    for _ in range(2):  # the ticket is reset by the last chunk: a second launch is right too
        kernel_cases.check_batch_norm(be, rng, np.float64, shapes=[(m, c)])
        kernel_cases.check_batch_norm_grad(be, rng, np.float64, shapes=[(m, c)])
    assert not be._scratch("col_tickets", (be._grid_cols(m, c)[0][0],), np.int32).any()


def test_sim_grid_stride_covers_more_units_than_threads(be: Any) -> None:
    """The simulator's grid holds 4 x 32 threads: every element past them is a stride."""
    rng = np.random.default_rng(4)
    assert be._grid1(3 * 5 * 6 * 17)[0][0] * be._grid1(1)[1][0] < 3 * 5 * 6 * 17
    kernel_cases.check_im2col(be, rng, np.float32, shapes=[(3, 17)])
    kernel_cases.check_max_pool_grad(be, rng, np.float64, shapes=[(3, 17)])
