"""Per-epoch progress display: a tqdm bar on a terminal, one line per epoch in a log.

Every epoch ends with a line that shows every metric in full. On a terminal that line is the
finished bar when the bar's text fits the width (tqdm narrows the bar itself to make room);
when even the text without a bar is wider than the terminal, tqdm would cut it at the edge
(``... - loss: 0.153`` and no accuracy), so the bar is cleared and the plain summary line is
printed instead, which the terminal wraps rather than cuts. A terminal whose width is 0 or
cannot be read gets the plain line only.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any


def _fmt(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


def terminal_columns(file: Any) -> int | None:
    """The width in columns of the terminal ``file`` writes to, or None when it cannot be
    read (not a terminal, no file descriptor). A terminal may report 0."""
    try:
        return os.get_terminal_size(file.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None


class EpochProgress:
    """``verbose=1``: a bar (steps done/total, ETA, ms/step, running loss and metrics) on a
    terminal, or the epoch's summary line when output is not a terminal (no log flooding);
    ``verbose=2``: one line per epoch; ``verbose=0``: silent.

    The summary line reads ``Epoch 2/5 - 250/250 steps - 3.1s (12.4ms/step) - loss: 0.1530
    - accuracy: 0.9550 - val_loss: ... - val_accuracy: ...``.
    """

    #: seconds between bar refreshes (each refresh reads the running loss from the device)
    interval = 0.25

    def __init__(self, epoch: int, epochs: int, steps: int, verbose: int, file: Any = None) -> None:
        self.epoch, self.epochs, self.steps, self.verbose = epoch, epochs, steps, verbose
        self.file = file or sys.stdout
        self.t0 = time.perf_counter()
        self.last = self.t0
        self.done = 0
        self.bar: Any = None
        columns = terminal_columns(self.file)
        # A width of 0 or an unreadable one: tqdm would print empty or cut lines.
        if verbose == 1 and getattr(self.file, "isatty", lambda: False)() and columns:
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=steps,
                desc=f"Epoch {epoch + 1}/{epochs}",
                unit="step",
                file=self.file,
                leave=True,
                ncols=columns,
                mininterval=self.interval,
            )

    @property
    def wants_update(self) -> bool:
        """True when the bar is due a refresh (the caller then reads the running logs)."""
        return self.bar is not None and time.perf_counter() - self.last >= self.interval

    def update(self, steps_done: int, logs: dict[str, float]) -> None:
        """Move the bar to ``steps_done`` and show the running ``logs`` after it."""
        if self.bar is None:
            return
        self.last = time.perf_counter()
        # Follow a resized terminal; keep the last width if it cannot be read now.
        self.bar.ncols = terminal_columns(self.file) or self.bar.ncols
        self.bar.update(steps_done - self.done)
        self.done = steps_done
        ms = 1000 * (self.last - self.t0) / max(steps_done, 1)
        self.bar.set_postfix_str(f"{ms:.1f}ms/step - {_fmt(logs)}", refresh=False)

    def summary(self, logs: dict[str, float]) -> str:
        """The epoch's plain summary line (no bar), with every metric in ``logs``."""
        elapsed = time.perf_counter() - self.t0
        ms = 1000 * elapsed / max(self.steps, 1)
        return (
            f"Epoch {self.epoch + 1}/{self.epochs} - {self.steps}/{self.steps} steps - "
            f"{elapsed:.1f}s ({ms:.1f}ms/step) - {_fmt(logs)}"
        )

    def close(self, logs: dict[str, float]) -> None:
        """End the epoch: show the final ``logs`` (validation metrics included), every one."""
        if self.bar is not None:
            self.update(self.steps, logs)
            fits = _fmt(logs) in str(self.bar)  # what tqdm draws at the current width
            if not fits:
                self.bar.leave = False  # clear the cut bar; the plain line replaces it
            self.bar.close()
            if fits:
                return
        if self.verbose in (1, 2):
            print(self.summary(logs), file=self.file, flush=True)
