"""Per-epoch progress display, wherever ``fit`` prints: a terminal, a notebook, or a log.

``verbose=1`` chooses by where the output goes:

* a terminal: a tqdm bar redrawn in place (steps done/total, ETA, ms/step, running metrics);
* a Jupyter kernel (stdout is ipykernel's stream): one output per epoch, a text bar updated in
  place through an IPython display handle (as Keras' progress bar and ``tqdm.auto`` do), left
  showing the epoch's summary line; the saved notebook keeps only that final state;
* anything else (a pipe, a file, a CI log): a line of running metrics at most every
  :attr:`EpochProgress.log_interval` seconds (so a long epoch is never silent for longer, and a
  short one is not flooded), then the epoch's summary line.

``verbose=2`` prints only the summary line, ``verbose=0`` nothing.

Every epoch ends with a line that shows every metric in full. On a terminal that line is the
finished bar when the bar's text fits the width (tqdm narrows the bar itself to make room);
when even the text without a bar is wider than the terminal, tqdm would cut it at the edge
(``... - loss: 0.153`` and no accuracy), so the bar is cleared and the plain summary line is
printed instead, which the terminal wraps rather than cuts. A terminal whose width is 0 or
cannot be read gets the log behaviour.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

#: The clock of every interval and rate shown (a test may replace it).
_now = time.perf_counter
#: Characters of the text bar drawn in a notebook.
BAR_WIDTH = 30


def _fmt(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


def terminal_columns(file: Any) -> int | None:
    """The width in columns of the terminal ``file`` writes to, or None when it cannot be
    read (not a terminal, no file descriptor). A terminal may report 0."""
    try:
        return os.get_terminal_size(file.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return None


def is_notebook_stream(file: Any) -> bool:
    """True when ``file`` is a Jupyter kernel's output stream (ipykernel's ``OutStream``), where
    a display handle can redraw one output in place."""
    return "ipykernel" in sys.modules and type(file).__module__.startswith("ipykernel")


def text_bar(done: int, total: int, width: int = BAR_WIDTH) -> str:
    """``[=========>....................]``: ``done`` of ``total`` steps, ``width`` wide."""
    filled = width * done // max(total, 1)
    head = ">" if 0 < filled < width else ""
    return "[" + "=" * (filled - len(head)) + head + "." * (width - filled) + "]"


class EpochProgress:
    """One epoch's display: ``update`` while it runs (when :attr:`wants_update` says so),
    ``close`` with the final logs.

    The summary line reads ``Epoch 2/5 - 250/250 steps - 3.1s (12.4ms/step) - loss: 0.1530
    - accuracy: 0.9550 - val_loss: ... - val_accuracy: ...``; a log's running lines have the
    same form with the steps done so far.
    """

    #: seconds between redraws of a terminal bar or a notebook output (each redraw reads the
    #: running loss from the device)
    interval = 0.25
    #: seconds between running lines in a log (a pipe, a file, CI)
    log_interval = 10.0

    def __init__(
        self, epoch: int, epochs: int, steps: int | None, verbose: int, file: Any = None
    ) -> None:
        # steps None: not known yet (a generator's first pass); the caller sets it at the end
        self.epoch, self.epochs, self.steps, self.verbose = epoch, epochs, steps, verbose
        self.file = file or sys.stdout
        self.t0 = _now()
        self.last = self.t0
        self.done = 0
        self.bar: Any = None
        self.handle: Any = None
        self.mode = self._choose_mode()
        if self.mode == "bar":
            from tqdm.auto import tqdm

            self.bar = tqdm(
                total=steps,
                desc=f"Epoch {epoch + 1}/{epochs}",
                unit="step",
                file=self.file,
                leave=True,
                ncols=terminal_columns(self.file),
                mininterval=self.interval,
            )
        elif self.mode == "notebook":
            from IPython.display import display

            self.handle = display({"text/plain": self._bar_line(0, {})}, raw=True, display_id=True)

    def _choose_mode(self) -> str:
        if self.verbose != 1:
            return "silent" if self.verbose == 0 else "epoch"
        if is_notebook_stream(self.file):
            return "notebook"
        # A width of 0 or an unreadable one: tqdm would print empty or cut lines.
        if getattr(self.file, "isatty", lambda: False)() and terminal_columns(self.file):
            return "bar"
        return "log"

    @property
    def wants_update(self) -> bool:
        """True when the display is due a refresh (the caller then reads the running logs)."""
        if self.mode not in ("bar", "notebook", "log"):
            return False
        wait = self.log_interval if self.mode == "log" else self.interval
        return _now() - self.last >= wait

    def update(self, steps_done: int, logs: dict[str, float]) -> None:
        """Show ``steps_done`` and the running ``logs``: redraw the bar or the notebook output,
        or, in a log, print a running line if :attr:`log_interval` has passed."""
        if self.mode == "log" and not self.wants_update:
            return
        if self.mode not in ("bar", "notebook", "log"):
            return
        self.last = _now()
        if self.mode == "log":
            print(self._line(steps_done, logs), file=self.file, flush=True)
        elif self.mode == "notebook":
            self.handle.update({"text/plain": self._bar_line(steps_done, logs)}, raw=True)
        else:
            # Follow a resized terminal; keep the last width if it cannot be read now.
            self.bar.ncols = terminal_columns(self.file) or self.bar.ncols
            self.bar.update(steps_done - self.done)
            ms = 1000 * (self.last - self.t0) / max(steps_done, 1)
            self.bar.set_postfix_str(f"{ms:.1f}ms/step - {_fmt(logs)}", refresh=False)
        self.done = steps_done

    def _line(self, steps_done: int, logs: dict[str, float]) -> str:
        elapsed = _now() - self.t0
        ms = 1000 * elapsed / max(steps_done, 1)
        total = self.steps if self.steps is not None else "?"  # a generator's first pass
        return (
            f"Epoch {self.epoch + 1}/{self.epochs} - {steps_done}/{total} steps - "
            f"{elapsed:.1f}s ({ms:.1f}ms/step) - {_fmt(logs)}"
        )

    def _bar_line(self, steps_done: int, logs: dict[str, float]) -> str:
        elapsed = _now() - self.t0
        if self.steps is None:  # a generator's first pass: no total yet, so no bar or ETA
            text = f"Epoch {self.epoch + 1}/{self.epochs} {steps_done} steps - {elapsed:.1f}s"
            return f"{text} - {_fmt(logs)}" if logs else text
        eta = elapsed / steps_done * (self.steps - steps_done) if steps_done else 0.0
        text = (
            f"Epoch {self.epoch + 1}/{self.epochs} {text_bar(steps_done, self.steps)} "
            f"{steps_done}/{self.steps} - {elapsed:.1f}s, ETA {eta:.1f}s"
        )
        return f"{text} - {_fmt(logs)}" if logs else text

    def summary(self, logs: dict[str, float]) -> str:
        """The epoch's plain summary line (no bar), with every metric in ``logs``."""
        return self._line(self.steps if self.steps is not None else self.done, logs)

    def close(self, logs: dict[str, float]) -> None:
        """End the epoch: show the final ``logs`` (validation metrics included), every one."""
        if self.mode == "notebook":
            self.handle.update({"text/plain": self.summary(logs)}, raw=True)
            return
        if self.bar is not None:
            self.update(self.steps or self.done, logs)
            fits = _fmt(logs) in str(self.bar)  # what tqdm draws at the current width
            if not fits:
                self.bar.leave = False  # clear the cut bar; the plain line replaces it
            self.bar.close()
            if fits:
                return
        if self.mode != "silent":
            print(self.summary(logs), file=self.file, flush=True)
