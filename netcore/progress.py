"""Per-epoch progress display: a tqdm bar on a terminal, one line per epoch in a log."""
from __future__ import annotations

import sys
import time
from typing import Any


def _fmt(logs: dict[str, float]) -> str:
    return " - ".join(f"{k}: {v:.4f}" for k, v in logs.items())


class EpochProgress:
    """``verbose=1``: a bar (steps done/total, ETA, ms/step, running loss and metrics) on a
    terminal, or the epoch's summary line when output is not a terminal (no log flooding);
    ``verbose=2``: one line per epoch; ``verbose=0``: silent."""

    #: seconds between bar refreshes (each refresh reads the running loss from the device)
    interval = 0.25

    def __init__(self, epoch: int, epochs: int, steps: int, verbose: int, file: Any = None) -> None:
        self.epoch, self.epochs, self.steps, self.verbose = epoch, epochs, steps, verbose
        self.file = file or sys.stdout
        self.t0 = time.perf_counter()
        self.last = self.t0
        self.done = 0
        self.bar = None
        if verbose == 1 and getattr(self.file, "isatty", lambda: False)():
            from tqdm.auto import tqdm

            self.bar = tqdm(total=steps, desc=f"Epoch {epoch + 1}/{epochs}", unit="step",
                            file=self.file, leave=True, dynamic_ncols=True, mininterval=self.interval)

    @property
    def wants_update(self) -> bool:
        """True when the bar is due a refresh (the caller then reads the running logs)."""
        return self.bar is not None and time.perf_counter() - self.last >= self.interval

    def update(self, steps_done: int, logs: dict[str, float]) -> None:
        if self.bar is None:
            return
        self.last = time.perf_counter()
        self.bar.update(steps_done - self.done)
        self.done = steps_done
        ms = 1000 * (self.last - self.t0) / max(steps_done, 1)
        self.bar.set_postfix_str(f"{ms:.1f}ms/step - {_fmt(logs)}", refresh=False)

    def close(self, logs: dict[str, float]) -> None:
        elapsed = time.perf_counter() - self.t0
        if self.bar is not None:
            self.update(self.steps, logs)
            self.bar.close()
            return
        if self.verbose in (1, 2):
            ms = 1000 * elapsed / max(self.steps, 1)
            print(f"Epoch {self.epoch + 1}/{self.epochs} - {self.steps}/{self.steps} steps - "
                  f"{elapsed:.1f}s ({ms:.1f}ms/step) - {_fmt(logs)}", file=self.file, flush=True)
