"""Input checks: bad input fails early with the argument, what was expected and what came."""

from __future__ import annotations

import math
from collections.abc import Sequence
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


def is_integer(value: Any) -> bool:
    """A Python or NumPy integer (``np.int64(3)`` counts; ``True`` does not)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def is_real_number(value: Any) -> bool:
    """A Python or NumPy real scalar (``np.float32(0.2)`` counts; ``True`` does not)."""
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def check_positive_int(value: Any, name: str) -> int:
    """``value`` as a Python int > 0 (NumPy integers accepted)."""
    if not is_integer(value) or value <= 0:
        raise ValueError(f"{name} must be a positive integer, received {value!r}")
    return int(value)


def check_batch_size(batch_size: Any) -> int:
    """``batch_size`` as a positive Python int; None is Keras' default, 32."""
    if batch_size is None:
        return 32
    return check_positive_int(batch_size, "batch_size")


def check_nonneg_int(value: Any, name: str) -> int:
    """``value`` as a Python int >= 0 (NumPy integers accepted)."""
    if not is_integer(value) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, received {value!r}")
    return int(value)


def check_verbose(verbose: Any) -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', received {verbose!r}")
    return int(verbose)


def check_bool(value: Any, name: str) -> bool:
    """``value`` when it is ``True`` or ``False`` (a truthy 1 or "no" is refused, not guessed)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False, received {value!r}")
    return value


def check_split(split: Any) -> float:
    if not is_real_number(split) or not 0 <= split < 1:
        raise ValueError(f"validation_split must be a number in [0, 1), received {split!r}")
    return float(split)


def _is_device_array(a: Any) -> bool:
    return hasattr(a, "__cuda_array_interface__") and not isinstance(a, np.ndarray)


def to_host(a: Any) -> np.ndarray:
    """``a`` as a NumPy array (a CuPy array is copied from its device)."""
    return np.asarray(a.get() if _is_device_array(a) else a)


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
        raise ValueError(
            f"{name} must be a non-empty array with samples along axis 0, "
            f"received shape {tuple(x.shape)}"
        )
    expected = model.layers[0].input_shape if model.layers else None
    if x.ndim == 1 and (expected is None or tuple(expected) == (1,)):
        x = x.reshape(-1, 1)  # one feature per sample, as in the course's y = m x + b
    return x


def check_x_shape(x: Any, model: Any, name: str = "x") -> None:
    """``x``'s per-sample shape must be the model's input shape; one sample without its batch
    axis gets told to add one."""
    expected = tuple(model.input_shape)
    got = tuple(x.shape[1:])
    if got == expected:
        return
    if tuple(x.shape) == expected:
        example = "x[None]" if name == "x" else f"{name.split()[-1]}[None]"
        raise ValueError(
            f"{name} has shape {tuple(x.shape)}: one sample of the model's input "
            f"shape {expected}, without a batch axis. Pass a batch of samples, "
            f"e.g. {example} (shape {(1, *expected)}) for one sample"
        )
    if len(expected) == 3 and expected[2] == 1 and got == expected[:2]:
        raise ValueError(
            f"{name} has per-sample shape {got}: images without their channel axis, but the "
            f"model's first layer expects {expected} (height, width, channels). Add the "
            f"channel axis, e.g. x[..., None] (shape {(x.shape[0], *expected)})"
        )
    has = f"{got[0]} features per sample" if len(got) == 1 else f"per-sample shape {got}"
    wants = f"{expected[0]}" if len(got) == len(expected) == 1 else f"{expected}"
    if len(got) > 1 and len(expected) == 1:
        wants = f"{expected[0]} features"
    raise ValueError(
        f"{name} has {has} but the model's first layer expects {wants}"
        + _flatten_hint(tuple(x.shape), expected, name)
    )


def _flatten_hint(shape: tuple[int, ...], expected: tuple[int, ...], name: str) -> str:
    """The exact reshape for images given to a model that takes flat rows: one image
    (``(28, 28)`` for 784 features) or a batch of them (``(N, 28, 28)``)."""
    if len(expected) != 1 or len(shape) < 2:
        return ""
    var = name.split()[-1]
    if math.prod(shape) == expected[0]:
        return (
            f". It looks like one image of shape {shape}: flatten it into a batch of one "
            f"row with {var}.reshape(1, {expected[0]})"
        )
    if len(shape) >= 3 and math.prod(shape[1:]) == expected[0]:
        return (
            f". It looks like {shape[0]} images of shape {shape[1:]}: flatten each into a row "
            f"with {var}.reshape(len({var}), -1) (shape {(shape[0], expected[0])}), or put a "
            f"Flatten layer first"
        )
    return ""


def check_y(y: Any, n: int, model: Any) -> Any:
    y = as_array(y, "y")
    loss = model.loss
    units = model.output_shape[-1]
    if y.ndim == 0 or y.shape[0] != n:
        raise ValueError(
            f"x and y must have the same number of rows (samples): x has {n}, "
            f"y has {y.shape[0] if y.ndim else 'none (a scalar)'}"
        )
    if loss.target_kind == "sparse":
        if y.ndim == 2 and y.shape[1] == 1:
            y = y.reshape(-1)
        if y.ndim != 1:
            raise ValueError(
                f"sparse_categorical_crossentropy expects integer labels of shape (N,), "
                f"received shape {tuple(y.shape)}"
            )
        check_labels(y, units, "y")
        return y
    if y.ndim == 1 and units == 1:
        y = y.reshape(-1, 1)
    if y.ndim == 1 and loss.target_kind == "onehot":
        raise ValueError(
            f"{loss.name} expects one-hot targets of shape (N, {units}), received "
            "integer labels of shape (N,): use netcore.utils.to_categorical(y) or "
            "loss='sparse_categorical_crossentropy'"
        )
    if tuple(y.shape[1:]) != (units,):
        kind = "one-hot width" if loss.target_kind == "onehot" else "target width"
        raise ValueError(
            f"y's {kind} must match the {units} output units, received y of shape {tuple(y.shape)}"
        )
    return y


def check_labels(labels: Any, units: int, name: str = "y") -> np.ndarray:
    """Integer class labels in ``[0, units)`` as a host int64 array: floats must be whole
    numbers (0.7 is refused, not truncated), negatives are refused (-1 would wrap around)."""
    host = to_host(labels)
    if host.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold integer class labels, received dtype {host.dtype}")
    if host.dtype.kind == "f":
        if not np.all(np.isfinite(host)):
            raise ValueError(f"{name} holds NaN or inf")
        if not np.all(host == np.round(host)):
            bad = host[host != np.round(host)].flat[0]
            raise ValueError(
                f"sparse_categorical_crossentropy expects integer labels in {name}, "
                f"received {bad:g}"
            )
    if host.size:
        lo, hi = host.min(), host.max()
        if lo < 0 or hi >= units:
            raise ValueError(
                f"labels in {name} must be in [0, {units}) for the {units} output "
                f"units, received {int(lo) if lo < 0 else int(hi)}"
            )
    return host.astype(np.int64)


def check_weights(
    weights: Sequence[Any], expected: Sequence[tuple[str, tuple[int, ...]]], dtype: Any
) -> list[np.ndarray]:
    """``weights`` as host arrays cast to ``dtype``, checked against ``expected``: one
    ``(name, shape)`` per weight, in order (``set_weights`` of a model or of a layer)."""
    weights = list(weights)
    if len(weights) != len(expected):
        raise ValueError(
            f"set_weights expected a list of {len(expected)} arrays, received {len(weights)}"
        )
    dtype = np.dtype(dtype)
    arrays = []
    for i, (w, (name, shape)) in enumerate(zip(weights, expected)):
        try:
            a = to_host(w)
        except Exception as exc:  # ragged lists and the like
            raise ValueError(
                f"set_weights: weight {i} ({name}) must be a rectangular real array: {exc}"
            ) from None
        if a.dtype.kind not in "biuf":
            raise ValueError(
                f"set_weights: weight {i} ({name}) must hold real numbers, received dtype {a.dtype}"
            )
        if a.shape != tuple(shape):
            raise ValueError(
                f"set_weights: weight {i} ({name}) must have shape {tuple(shape)}, "
                f"received {a.shape}"
            )
        # Checked after the cast: a float64 1e300 is finite but becomes inf in float32.
        with np.errstate(over="ignore", invalid="ignore"):
            cast = a.astype(dtype)
        if not np.all(np.isfinite(cast)):
            what = (
                "NaN or inf"
                if not np.all(np.isfinite(a))
                else f"values beyond the {dtype.name} range (largest magnitude {np.abs(a).max():g})"
            )
            raise ValueError(f"set_weights: weight {i} ({name}) holds {what}")
        arrays.append(cast)
    return arrays


def check_sample_weight(sample_weight: Any, n: int, name: str = "sample_weight") -> np.ndarray:
    """Per-sample weights as a host float64 array of shape (N,): finite and >= 0."""
    w = as_array(sample_weight, name)
    w = to_host(w)
    if w.shape != (n,):
        raise ValueError(
            f"{name} must have one weight per sample of x, shape ({n},), received shape {w.shape}"
        )
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{name} holds NaN or inf")
    if np.any(w < 0):
        raise ValueError(f"{name} must be >= 0, received {w[w < 0][0]:g}")
    return w


def check_in_range(a: np.ndarray, dtype: Any, name: str) -> None:
    """Refuse finite values of ``a`` that become inf in ``dtype`` (a float64 1e39 weight in a
    float32 model), with the message ``x`` gets."""
    limit = float(np.finfo(dtype).max)
    largest = float(np.abs(a).max()) if a.size else 0.0
    if largest > limit:
        raise ValueError(
            f"{name} holds values up to {largest:g}, beyond the range of the model's dtype "
            f"{np.dtype(dtype).name} (largest {limit:g}): scale {name} down, or build the "
            "model with dtype='float64'"
        )


def class_weight_samples(class_weight: Any, y: Any, model: Any) -> np.ndarray:
    """Keras' ``class_weight``: a dict ``{class index: weight}`` turned into per-sample weights
    ``w_i = class_weight[class of sample i]``. The class is the label (sparse targets), the
    arg-max of a one-hot row, or the rounded target of a one-unit output. Every class present
    in ``y`` must have a weight."""
    if not isinstance(class_weight, dict) or not class_weight:
        raise ValueError(
            f"class_weight must be a dict {{class index: weight}}, e.g. "
            f"{{0: 1.0, 1: 5.0}}, received {class_weight!r}"
        )
    units = model.output_shape[-1]
    table = {}
    for k, v in class_weight.items():
        if not is_integer(k) or not 0 <= k < max(units, 2):
            raise ValueError(
                f"class_weight keys must be class indices in [0, {max(units, 2)}), received {k!r}"
            )
        if not is_real_number(v) or not np.isfinite(v) or v < 0:
            raise ValueError(
                f"class_weight values must be finite numbers >= 0, received {v!r} for class {k}"
            )
        table[int(k)] = float(v)
    host = to_host(y)
    if host.ndim == 2 and host.shape[1] > 1:
        classes = host.argmax(axis=1)
    else:
        classes = np.round(host.reshape(-1)).astype(np.int64)
    present = np.unique(classes)
    missing = sorted(int(c) for c in present if int(c) not in table)
    if missing:
        raise ValueError(
            f"class_weight must give a weight to every class in y: classes "
            f"{missing} have none, received keys {sorted(table)}"
        )
    lookup = np.zeros(int(present.max()) + 1, dtype=np.float64)
    for k, v in table.items():
        if k < lookup.size:
            lookup[k] = v
    return lookup[classes]
