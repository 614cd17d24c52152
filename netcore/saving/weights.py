"""``save_weights`` / ``load_weights``: a model's weights alone, in netcore's model format.

A weights file is a model file (:mod:`.writer`) without compile settings or optimizer state:
the architecture is kept so that loading into a different one is refused with a message
naming the first difference. Its name ends in ``.weights.netcore`` (Keras 3 asks for
``.weights.h5``; netcore writes its own format, not HDF5, so it says so in the name).
Keras' ``.h5``, ``.hdf5`` and ``.keras`` names are refused for whole models too
(:func:`check_netcore_name`): netcore cannot write those formats, and a file under their
name would be one that Keras cannot read.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .reader import ModelFile
from .writer import write_model_file

__all__ = [
    "WEIGHTS_SUFFIX",
    "check_netcore_name",
    "save_weights",
    "load_weights",
    "restore_training_state",
]

WEIGHTS_SUFFIX = ".weights.netcore"
_KERAS_SUFFIXES = (".h5", ".hdf5", ".keras")


def check_netcore_name(path: str | os.PathLike, what: str = "model.save") -> None:
    """Refuse a Keras file name (``.h5``, ``.hdf5``, ``.keras``) for a netcore file."""
    name = Path(os.fspath(path)).name.lower()
    if name.endswith(_KERAS_SUFFIXES):
        raise ValueError(
            f"{what}: netcore writes its own format (a zip of JSON and .npy arrays), not "
            f"Keras' HDF5 or .keras files, so it will not write it under a Keras name; name "
            f"the file '*.netcore' ('*{WEIGHTS_SUFFIX}' for save_weights). "
            f"Received: filepath={os.fspath(path)!r}"
        )


def _check_weights_name(path: str | os.PathLike, what: str) -> None:
    check_netcore_name(path, what)
    if not Path(os.fspath(path)).name.endswith(WEIGHTS_SUFFIX):
        raise ValueError(
            f"{what}: the file name must end in {WEIGHTS_SUFFIX!r} (as Keras 3 asks for "
            f"'.weights.h5'). Received: filepath={os.fspath(path)!r}"
        )


def _layer_table(config: dict[str, Any]) -> list[str]:
    return [str(spec.get("class")) for spec in config.get("layers", [])]


def save_weights(model: Any, path: str | os.PathLike, allow_nonfinite: bool = False) -> None:
    """Write the weights of a built model to ``path`` (``*.weights.netcore``), atomically."""
    _check_weights_name(path, "save_weights")
    model._require_built("save_weights")
    names = [name for name, _ in model._weight_items()]
    write_model_file(
        path,
        model.get_config(),
        model.input_shape,
        None,
        model.get_weights(),
        (),
        names,
        allow_nonfinite=allow_nonfinite,
    )


def _require_same_architecture(model: Any, f: ModelFile, what: str) -> list[tuple[int, ...]]:
    """The model's weight shapes, after checking that the file holds the same architecture
    (``ValueError`` naming the first difference otherwise)."""
    if not model.built:
        model.build(f.input_shape)
    ours = [(name, tuple(w.shape)) for name, w in model._weight_items()]
    theirs = f.weight_shapes()
    problem = None
    if _layer_table(f.config) != _layer_table(model.get_config()):
        problem = (
            f"the file's layers are {_layer_table(f.config)}, the model's "
            f"{_layer_table(model.get_config())}"
        )
    elif tuple(f.input_shape) != tuple(model.input_shape):
        problem = f"the file's input shape is {f.input_shape}, the model's {model.input_shape}"
    elif len(theirs) != len(ours):
        problem = f"the file holds {len(theirs)} weight arrays, the model {len(ours)}"
    else:
        for (name, shape), found in zip(ours, theirs):
            if tuple(found) != shape:
                problem = f"{name} has shape {shape} in the model, {tuple(found)} in the file"
                break
    if problem is not None:
        raise ValueError(f"{what}: {str(f.path)!r} was saved from another architecture: {problem}")
    return [s for _, s in ours]


def load_weights(model: Any, path: str | os.PathLike, allow_nonfinite: bool = False) -> None:
    """Put the weights of ``path`` into ``model``, whose architecture must be the file's:
    the same layer classes, input shape and weight shapes (else ``ValueError`` naming the
    first difference). The model's optimizer state is left as it is."""
    _check_weights_name(path, "load_weights")
    with ModelFile(path) as f:
        shapes = _require_same_architecture(model, f, "load_weights")
        arrays = f.read_weights(shapes, model.dtype, allow_nonfinite)
    model.set_weights(arrays)


def restore_training_state(model: Any, path: str | os.PathLike) -> None:
    """Put a ``model.save`` file's weights, optimizer state and step count into the compiled
    ``model`` of the same architecture (``BackupAndRestore`` resuming a fit)."""
    with ModelFile(path) as f:
        shapes = _require_same_architecture(model, f, "BackupAndRestore")
        arrays = f.read_weights(shapes, model.dtype)
        opt, comp = model.optimizer, f.compile_config
        if comp is None or comp["optimizer"].get("name") != opt.name:
            raise ValueError(
                f"BackupAndRestore: {str(f.path)!r} holds no {opt.name} optimizer state; "
                "delete the backup folder to start afresh"
            )
        state = f.read_optimizer_state(
            [{s: tuple(a.shape) for s, a in slots.items()} for slots in opt.state],
            model.dtype,
            opt.nonnegative_slots,
        )
    model.set_weights(arrays)
    for slots, loaded in zip(opt.state, state):
        for s, arr in loaded.items():
            slots[s][...] = model.backend.asarray(arr)
    opt.iterations = comp["iterations"]
