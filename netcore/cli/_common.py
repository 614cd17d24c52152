"""What the commands share: names, the run-time error, printing, the output folder, plots."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .. import datasets as _datasets
from .. import optimizers as _optimizers

PROG = "netcore"
# The choices come from the one name map of each kind.
DATASETS = _datasets.NAMES
OPTIMIZERS = _optimizers.OPTIMIZER_NAMES
MODEL_FILE = "model.netcore"
HISTORY_FILE = "history.json"


class CLIError(Exception):
    """A run-time failure a user can fix, reported without a traceback, exit status 1."""


def _say(*parts: Any) -> None:
    from ..distribution import is_chief

    if is_chief():  # under mpiexec rank 0 alone talks
        print(*parts, flush=True)


def _warn(text: str) -> None:
    print(f"{PROG}: warning: {text}", file=sys.stderr, flush=True)


def _out_dir(path: str) -> Path:
    """Create the output folder and prove it writable, before any long work starts."""
    out = Path(path).expanduser()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CLIError(
            f"cannot create the output folder {out}: {exc.strerror or exc}; "
            "choose another with --out"
        ) from exc
    try:
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise CLIError(
            f"cannot write to the output folder {out}: {exc.strerror or exc}; "
            "choose another with --out"
        ) from exc
    return out


def _try_plots(draw: Callable[[], list[Path]]) -> list[Path]:
    """Draw, or warn that matplotlib is missing and carry on (the rest of the command stands)."""
    from ..plotting import PlottingUnavailableError

    try:
        return draw()
    except PlottingUnavailableError as exc:
        _warn(f"plots skipped: {exc}")
        return []
