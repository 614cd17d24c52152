"""Shared test helpers: finite differences in float64."""

import numpy as np


def numeric_grad(f, arr, h=1e-6):
    """Central differences of scalar ``f()`` with respect to every element of ``arr`` (in place)."""
    g = np.zeros_like(arr, dtype=np.float64)
    it = np.nditer(arr, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = arr[i]
        arr[i] = old + h
        fp = f()
        arr[i] = old - h
        fm = f()
        arr[i] = old
        g[i] = (fp - fm) / (2 * h)
    return g
