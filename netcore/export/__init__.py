"""Models for inference outside netcore: ``model.export(path, format="onnx")``.

:func:`export_model` checks the format and writes the file; :mod:`.onnx_graph` builds the ONNX
graph (the ``onnx`` extra: ``pip install netcore[onnx]``).
"""

from __future__ import annotations

import os
from typing import Any

from ..saving.writer import check_save_target, write_atomically
from .onnx_graph import OPSET, build_onnx, check_exportable

#: the formats ``export`` writes
EXPORT_FORMATS = ("onnx",)

__all__ = ["export_model", "build_onnx", "check_exportable", "EXPORT_FORMATS", "OPSET"]


def export_model(model: Any, filepath: str | os.PathLike, format: str = "onnx") -> None:
    """Write ``model`` (built) to ``filepath`` in ``format`` ("onnx"), atomically.

    Raises:
        ValueError: an unknown ``format``, or a layer that has no ONNX form (named).
        ImportError: the ``onnx`` package is missing.
        OSError: ``filepath`` cannot be written (named).
    """
    if format not in EXPORT_FORMATS:
        raise ValueError(
            f"format must be one of {list(EXPORT_FORMATS)}. Received: format={format!r}"
        )
    check_exportable(model)
    check_save_target(filepath)  # before the graph is built: a bad path fails at once
    proto = build_onnx(model)
    write_atomically(filepath, lambda fh: fh.write(proto.SerializeToString()))
