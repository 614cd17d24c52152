"""numba-cuda 0.30 needs np.row_stack, which NumPy 2.5 removed: the shim restores the alias."""

import numpy as np

from netcore.kernels._common import numpy_compat_for_numba_cuda


def test_row_stack_alias_restored(monkeypatch):
    monkeypatch.delattr(np, "row_stack", raising=False)
    numpy_compat_for_numba_cuda()
    out = np.row_stack([np.array([1, 2]), np.array([3, 4])])
    np.testing.assert_array_equal(out, [[1, 2], [3, 4]])


def test_existing_row_stack_untouched(monkeypatch):
    sentinel = object()
    monkeypatch.setattr(np, "row_stack", sentinel, raising=False)
    numpy_compat_for_numba_cuda()
    assert np.row_stack is sentinel
