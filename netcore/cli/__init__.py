"""The ``netcore`` command line: the course's exercises from one command.

    netcore train --dataset mnist [--model mlp|cnn] [--data PATH] [--epochs 5] ... [--out DIR]
    netcore linear [--learning-rate 0.1] [--steps 20] [--out DIR]
    netcore plot samples|predictions|filters|feature-maps|overfitting|xent|activations [--out DIR]
    netcore predict IMAGE... --model FILE [--classes NAMES]
    netcore export --model FILE --out FILE.onnx
    netcore info

This package is the parser and one ``cmd_*`` function per command, and :func:`main` here:
:mod:`.parser` (the options), :mod:`.train`, :mod:`.plots` (``linear`` and ``plot ...``),
:mod:`.info`, :mod:`.predict`, :mod:`.export`, and what they share in :mod:`._common` and :mod:`._data`. The work is
elsewhere: the data sets and their fallbacks in :mod:`netcore.datasets` (``datasets.load``),
the course model, walk-through and overfitting advice in :mod:`netcore.course`, the GPU
description in :mod:`netcore.backend.report`, the pictures in :mod:`netcore.plotting`.

Exit status: 0 on success, 2 for usage errors (argparse's own convention), 1 when a command
fails at run time. Errors go to stderr as ``netcore: error: ...``, a message of several lines
keeping its lines; ``--debug`` shows the traceback as well.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

from ..course import build_mlp, overfitting_advice
from ..course.linear import MAX_STEPS as MAX_STEPS
from ..course.linear import ZIGZAG_LEARNING_RATE as ZIGZAG_LEARNING_RATE
from ..course.overfitting import OVERFIT_THRESHOLD
from ._common import DATASETS as DATASETS
from ._common import HISTORY_FILE as HISTORY_FILE
from ._common import MODEL_FILE as MODEL_FILE
from ._common import OPTIMIZERS as OPTIMIZERS
from ._common import PROG, CLIError
from .export import cmd_export as cmd_export
from .info import cmd_info as cmd_info
from .info import info_lines
from .parser import build_parser
from .plots import cmd_linear as cmd_linear
from .plots import cmd_plot_activations as cmd_plot_activations
from .plots import cmd_plot_feature_maps as cmd_plot_feature_maps
from .plots import cmd_plot_filters as cmd_plot_filters
from .plots import cmd_plot_overfitting as cmd_plot_overfitting
from .plots import cmd_plot_predictions as cmd_plot_predictions
from .plots import cmd_plot_samples as cmd_plot_samples
from .plots import cmd_plot_xent as cmd_plot_xent
from .predict import cmd_predict as cmd_predict
from .train import cmd_train as cmd_train

__all__ = [
    "main",
    "build_parser",
    "info_lines",
    "build_mlp",
    "overfitting_advice",
    "OVERFIT_THRESHOLD",
    "CLIError",
]


# --------------------------------------------------------------------------- main, errors
def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 failure, 2 usage error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 2 for usage errors, 0 for --help / --version
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    debug = bool(getattr(args, "debug", False))
    try:
        # The command's function is looked up here, by the name the parser stored, so the
        # one that runs is whatever this package holds under that name at the time.
        return int(globals()[args.handler](args) or 0)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        _abort_other_ranks(130)
        return 130
    except Exception as exc:  # every failure becomes a message, unless --debug
        if debug:
            traceback.print_exc()
        hint = (
            "" if debug or _expected(exc) else " (unexpected: rerun with --debug for the traceback)"
        )
        print(_error_text(exc, hint), file=sys.stderr)
        _abort_other_ranks()
        return 1


def _expected(exc: BaseException) -> bool:
    """Failures a user can cause and fix (bad data, missing backend, ...), as opposed to bugs."""
    from ..errors import NetcoreError

    return isinstance(exc, (CLIError, NetcoreError, OSError, ValueError, ImportError))


def _error_text(exc: BaseException, hint: str = "") -> str:
    """``netcore: error: <first line><hint>`` and any further lines of the message, indented,
    so a list of folders searched stays a list."""
    lines = [line.rstrip() for line in str(exc).strip().splitlines() if line.strip()]
    if not lines:
        lines = [type(exc).__name__]
    elif not _expected(exc):
        lines[0] = f"{type(exc).__name__}: {lines[0]}"
    return "\n".join([f"{PROG}: error: {lines[0]}{hint}"] + [f"  {ln}" for ln in lines[1:]])


def _abort_other_ranks(code: int = 1) -> None:
    """Under mpiexec the other ranks would wait for this one forever: end the whole job."""
    from .. import distribution

    dist = distribution.active()
    if dist is not None:
        dist.abort(f"{PROG} {'interrupted' if code == 130 else 'failed'}", code)
