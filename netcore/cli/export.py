"""``netcore export --model FILE --out FILE.onnx``: a saved model as an ONNX file."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..export import EXPORT_FORMATS, OPSET
from ..saving.loader import load_model
from ._common import CLIError, _say


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """The ``export`` command's options."""
    p = sub.add_parser(
        "export",
        parents=[common],
        help="write a saved model as an ONNX file, for inference without netcore",
        description=f"Write a model saved with save() as an ONNX graph (opset {OPSET}) that "
        "computes predict(): input 'input' and output 'output', any batch size.",
    )
    p.add_argument("--model", metavar="FILE", required=True, help="a model saved with save()")
    p.add_argument("--out", metavar="FILE", required=True, help="the file to write (.onnx)")
    p.add_argument("--format", choices=EXPORT_FORMATS, default="onnx", help="default onnx")
    p.set_defaults(handler="cmd_export")


def cmd_export(args: argparse.Namespace) -> int:
    """``netcore export``: load the model and export it."""
    model_file = Path(args.model).expanduser()
    if not model_file.is_file():
        raise CLIError(f"model file {model_file} does not exist")
    model = load_model(model_file)
    out = Path(args.out).expanduser()
    model.export(out, format=args.format)
    _say(
        f"Wrote {out}: ONNX opset {OPSET}, input 'input' {('batch', *model.input_shape)}, "
        f"output 'output' {('batch', *model.output_shape)}"
    )
    return 0
