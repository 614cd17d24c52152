"""Input checks: bad input fails early with the argument, what was expected and what came."""
from __future__ import annotations

from typing import Any

import numpy as np

_DTYPES = {"float32": np.float32, "float64": np.float64}


def check_dtype(dtype: Any) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.name not in _DTYPES:
        raise ValueError(f"dtype must be one of {list(_DTYPES)}, received {dtype!r}")
    return dt


def check_batch_size(batch_size: Any) -> int:
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, received {batch_size!r}")
    return int(batch_size)


def check_nonneg_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, received {value!r}")
    return int(value)


def check_verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', received {verbose!r}")
    return int(verbose)


def check_split(split: Any) -> float:
    if isinstance(split, bool) or not isinstance(split, (int, float)) or not 0 <= split < 1:
        raise ValueError(f"validation_split must be a number in [0, 1), received {split!r}")
    return float(split)


def _is_device_array(a: Any) -> bool:
    return hasattr(a, "__cuda_array_interface__") and not isinstance(a, np.ndarray)


def as_array(a: Any, name: str) -> Any:
    """An ndarray (NumPy, or CuPy left on its device) from array-likes."""
    if a is None:
        raise ValueError(f"{name} must be an array, received None")
    if _is_device_array(a):
        return a
    try:
        arr = np.asarray(a)
    except Exception as exc:  # ragged lists and the like
        raise ValueError(f"{name} must be a rectangular numeric array: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric, received dtype {arr.dtype}")
    return arr


def check_x(x: Any, model: Any, name: str) -> Any:
    x = as_array(x, name)
    if x.ndim == 0 or x.shape[0] == 0 or x.size == 0:
        raise ValueError(f"{name} must be a non-empty array with samples along axis 0, "
                         f"received shape {tuple(x.shape)}")
    expected = model.layers[0].input_shape if model.layers else None
    if x.ndim == 1 and (expected is None or tuple(expected) == (1,)):
        x = x.reshape(-1, 1)  # one feature per sample, as in the course's y = m x + b
    return x


def check_x_shape(x: Any, model: Any) -> None:
    expected = tuple(model.input_shape)
    got = tuple(x.shape[1:])
    if got != expected:
        what = "features" if len(expected) == 1 else "per-sample shape"
        raise ValueError(f"x has {got[0] if len(got) == 1 else got} {what} per sample but the "
                         f"model's first layer expects {expected[0] if len(expected) == 1 else expected}")


def check_y(y: Any, n: int, model: Any) -> Any:
    y = as_array(y, "y")
    loss = model.loss
    units = model.output_shape[-1]
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(f"x and y must have the same number of rows (samples): x has {n}, "
                         f"y has {y.shape[0] if y.ndim else 'none (a scalar)'}")
    if loss.target_kind == "sparse":
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.reshape(-1)
        if y.ndim != 1:
            raise ValueError(f"sparse_categorical_crossentropy expects integer labels of shape (N,), "
                             f"received shape {tuple(y.shape)}")
        host = np.asarray(y.get() if _is_device_array(y) else y)
        if host.dtype.kind == "f":
            if not np.all(np.isfinite(host)):
                raise ValueError("y holds NaN or inf")
            if not np.all(host == np.round(host)):
                raise ValueError("sparse_categorical_crossentropy expects integer labels in y")
        lo, hi = int(host.min()), int(host.max())
        if lo < 0 or hi >= units:
            raise ValueError(f"labels in y must be in [0, {units}) for the {units} output units, "
                             f"received {lo if lo < 0 else hi}")
        return y
    if y.ndim == 1 and units == 1:
        y = y.reshape(-1, 1)
    if y.ndim == 1 and loss.target_kind == "onehot":
        raise ValueError(f"{loss.name} expects one-hot targets of shape (N, {units}), received "
                         "integer labels of shape (N,): use netcore.utils.to_categorical(y) or "
                         "loss='sparse_categorical_crossentropy'")
    if tuple(y.shape[1:]) != (units,):
        kind = "one-hot width" if loss.target_kind == "onehot" else "target width"
        raise ValueError(f"y's {kind} must match the {units} output units, received y of shape "
                         f"{tuple(y.shape)}")
    return y


def split_validation(x: Any, y: Any, split: float) -> tuple[Any, Any, tuple[Any, Any]]:
    """Keras' validation_split: the *last* fraction of the samples, taken before shuffling."""
    x = as_array(x, "x")
    y = as_array(y, "y")
    n = x.shape[0] if x.ndim else 0
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(f"x and y must have the same number of rows (samples): x has {n}, "
                         f"y has {y.shape[0] if y.ndim else 'none'}")
    k = int(n * (1 - split))
    if k == 0 or k == n:
        raise ValueError(f"validation_split={split} leaves {k} of {n} samples for training; "
                         "choose a split that leaves samples on both sides")
    return x[:k], y[:k], (x[k:], y[k:])
