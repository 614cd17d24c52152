"""``load_model``: a model rebuilt from its file (the model side of :mod:`netcore.saving.reader`).

The order bounds memory by what the file really holds: the weight headers are read first (their
sizes are backed by the archive's bytes); the architecture's parameter count is checked against
them before anything is allocated; the model is built; then each array is checked against the
built model's shapes before its data is read.
"""

from __future__ import annotations

import math
import os
from typing import Any

from .. import losses, optimizers, validation
from ..backend import _check_name as check_backend_name
from ..backend.base import Backend
from ..models import Sequential
from .reader import ModelFile

__all__ = ["load_model"]


def load_model(
    path: str | os.PathLike, backend: str | Backend | None = None, allow_nonfinite: bool = False
) -> Sequential:
    """Load a model saved by ``Sequential.save`` onto ``backend`` (None: the process default),
    with its weights and, when it was compiled, its loss, metrics, optimizer state and step count.

    A missing, truncated, corrupt, inconsistent or foreign file raises
    :class:`netcore.ModelFileError` naming the file and what is wrong. NaN or inf in the file is
    refused unless ``allow_nonfinite=True``.
    """
    if backend is not None and not isinstance(backend, Backend):
        check_backend_name(backend)  # before the file is read
    validation.check_bool(allow_nonfinite, "allow_nonfinite")
    with ModelFile(path) as f:
        held = sum(math.prod(s) for s in f.weight_shapes())
        with f.checking("the architecture"):
            config = _unshaped(f.config, f.input_shape)
            needed = _fewest_parameters(config, f.input_shape)
        if needed > held:
            raise f.error(
                f"holds an inconsistent netcore model: the architecture needs at least "
                f"{needed} parameters, the file holds {held}"
            )
        with f.checking("the architecture"):
            model = Sequential.from_config(config, backend=backend)
            model.build(f.input_shape)
        params = [p for _, p in model._weight_items()]  # trainable and non-trainable
        weights = f.read_weights([tuple(p.shape) for p in params], model.dtype, allow_nonfinite)
        for p, w in zip(params, weights):
            p[...] = model.backend.asarray(w)
        comp = f.compile_config
        if comp is not None:
            with f.checking("the compile settings"):
                model.compile(
                    optimizer=optimizers.from_config(comp["optimizer"]),
                    loss=_loss(comp),
                    metrics=comp["metrics"],
                )
            opt = model.optimizer
            assert opt is not None
            state = f.read_optimizer_state(
                [{s: tuple(a.shape) for s, a in slots.items()} for slots in opt.state],
                model.dtype,
                opt.nonnegative_slots,
                allow_nonfinite,
            )
            for slots, loaded in zip(opt.state, state):
                for s, arr in loaded.items():
                    slots[s][...] = model.backend.asarray(arr)
            opt.iterations = comp["iterations"]
    return model


def _loss(comp: dict[str, Any]) -> Any:
    """The saved loss: its name, with its arguments when the file holds them (which must
    describe that same loss)."""
    config = comp.get("loss_config")
    if config is None:
        return comp["loss"]
    if not isinstance(config, dict) or config.get("name") != losses.get(comp["loss"]).name:
        raise ValueError(f"loss_config {config!r:.100} does not describe loss {comp['loss']!r}")
    return losses.from_config(config)


def _unshaped(config: dict[str, Any], input_shape: tuple[int, ...]) -> dict[str, Any]:
    """``config`` with the input shapes taken out of its layers, so that the file's
    ``input_shape`` alone decides the build (the one the parameter check below has seen);
    a first layer stating another input shape is inconsistent."""
    layers = []
    for i, spec in enumerate(config["layers"]):
        layer_config = dict(spec["config"])
        stated = layer_config.pop("input_shape", None)
        layer_config.pop("input_dim", None)
        if i == 0 and stated is not None and list(stated) != list(input_shape):
            raise ValueError(
                f"the first layer's input_shape is {stated!r}, the file's {list(input_shape)}"
            )
        layers.append({**spec, "config": layer_config})
    return {**config, "layers": layers}


#: Layers whose output size the config alone does not bound from below (conv: filters x a
#: spatial size the input decides).
_RESIZING = frozenset(("Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D"))


def _fewest_parameters(config: dict[str, Any], input_shape: tuple[int, ...]) -> int:
    """The fewest parameters building ``config`` can create, from the numbers in the config
    alone. ``width`` bounds the element count per sample from below, ``last`` the size of the
    last axis: a layer with ``units`` (Dense, on the last axis) maps ``last`` features to
    ``units`` through a ``(last, units)`` kernel (plus at most ``units`` biases, so the build
    allocates at most twice this); Flatten makes the last axis the whole sample; Reshape
    leaves the last axis unknown (1); after convolution and pooling both count as 1; the
    other layers keep both. A file whose weights hold fewer parameters is refused before the
    build could allocate what the file cannot fill."""
    width, last, total = math.prod(input_shape), input_shape[-1], 0
    for spec in config["layers"]:
        kind = spec.get("class")
        if kind in _RESIZING:
            width = last = 1
        elif kind == "Flatten":
            last = width
        elif kind == "Reshape":
            last = 1
        units = spec["config"].get("units")
        if units is not None:
            if not isinstance(units, int) or isinstance(units, bool) or units <= 0:
                raise ValueError(f"units must be a positive integer, received {units!r}")
            total += last * units
            width = last = units
    return total
