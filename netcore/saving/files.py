"""The model's files, mixed into :class:`~netcore.models.Sequential`: ``save`` (the whole
model, :mod:`.writer`), ``save_weights``/``load_weights`` (:mod:`.weights`), ``to_json`` (the
architecture) and ``export`` (ONNX, :mod:`netcore.export`). Under data parallelism rank 0
writes: every replica holds the same weights."""

from __future__ import annotations

import json
import os
from typing import Any

from ..distribution import is_chief
from ..export import export_model
from . import weights as weights_file
from .writer import save_model


class ModelFiles:
    """Writing and reading a model's files; the model provides ``get_config``."""

    get_config: Any

    def save(self, path: str | os.PathLike, allow_nonfinite: bool = False) -> None:
        """Write architecture, weights, optimizer state and step count to one file, atomically
        (format and file-system rules: :mod:`netcore.saving.writer`). NaN or inf in any weight or
        optimizer slot raises ValueError naming it, unless ``allow_nonfinite=True``."""
        weights_file.check_netcore_name(path)  # not under a Keras name (.h5, .keras)
        if is_chief():  # data parallel: rank 0 writes; every replica holds the same weights
            save_model(self, path, allow_nonfinite=allow_nonfinite)

    def save_weights(self, filepath: str | os.PathLike, allow_nonfinite: bool = False) -> None:
        """Write the weights alone to ``filepath``, named ``*.weights.netcore``, atomically
        (:mod:`netcore.saving.weights`)."""
        if is_chief():
            weights_file.save_weights(self, filepath, allow_nonfinite)

    def load_weights(self, filepath: str | os.PathLike, allow_nonfinite: bool = False) -> None:
        """Load weights written by ``save_weights`` (or ``save``) into this model; another
        architecture raises ``ValueError`` naming the first difference."""
        weights_file.load_weights(self, filepath, allow_nonfinite)

    def to_json(self, **kwargs: Any) -> str:
        """The architecture as JSON (``json.dumps`` keyword arguments accepted), for
        :func:`netcore.models.model_from_json`."""
        return json.dumps({"class_name": "Sequential", "config": self.get_config()}, **kwargs)

    def export(self, filepath: str | os.PathLike, format: str = "onnx") -> None:
        """Write the model for inference without netcore, atomically: ``format="onnx"`` (the
        ``onnx`` extra), a graph that computes :meth:`predict` with a dynamic batch axis
        (:mod:`netcore.export.onnx_graph`: opset, names, layers). A layer with no ONNX form,
        or another format, raises ``ValueError`` naming it."""
        export_model(self, filepath, format)
