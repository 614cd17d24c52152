"""The per-epoch progress line shows every metric in full, whatever the terminal's width.

A fake terminal (a StringIO that says it is a tty, with a chosen width) records what tqdm and
the summary line write; ``screen`` replays it the way a terminal does with carriage returns,
so the assertions are about what the user would see at the end of each epoch.
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np
import pytest

from netcore.training import progress

LOGS = {"loss": 0.15301, "accuracy": 0.95512, "val_loss": 0.20117, "val_accuracy": 0.94331}
SHOWN = ["loss: 0.1530", "accuracy: 0.9551", "val_loss: 0.2012", "val_accuracy: 0.9433"]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def screen(text: str) -> list[str]:
    """The lines left on a terminal after ``text``: a carriage return moves back to the
    start of the line, and what follows overwrites it."""
    lines = []
    for raw in text.split("\n"):
        line: list[str] = []
        col = 0
        for ch in raw:
            if ch == "\r":
                col = 0
                continue
            if col < len(line):
                line[col] = ch
            else:
                line.append(ch)
            col += 1
        lines.append("".join(line).rstrip())
    return [line for line in lines if line]


@pytest.fixture
def width(monkeypatch):
    """Set the width the fake terminal reports (an int, 0, or None for unreadable)."""

    def set_width(columns):
        monkeypatch.setattr(progress, "terminal_columns", lambda file: columns)

    return set_width


def run_epoch(logs=LOGS, verbose=1, file=None) -> str:
    out = file if file is not None else FakeTerminal()
    bar = progress.EpochProgress(0, 3, 250, verbose, file=out)
    bar.update(100, {"loss": 0.2, "accuracy": 0.9})
    bar.close(logs)
    return out.getvalue()


@pytest.mark.parametrize("columns", [80, 120])
def test_narrow_terminal_replaces_the_cut_bar_with_the_full_summary_line(width, columns):
    width(columns)
    lines = screen(run_epoch())
    assert len(lines) == 1, lines  # the cut bar is cleared, not left
    assert lines[0].startswith("Epoch 1/3 - 250/250 steps - ")
    for metric in SHOWN:
        assert metric in lines[0]


def test_wide_terminal_keeps_the_bar_with_every_metric_inside_the_width(width):
    width(300)
    text = run_epoch()
    lines = screen(text)
    assert len(lines) == 1 and "100%" in lines[0] and "250/250" in lines[0]
    assert len(lines[0]) <= 300
    for metric in SHOWN:
        assert metric in lines[0]


def test_the_bar_is_shown_during_the_epoch_on_a_terminal(width):
    width(300)
    out = FakeTerminal()
    bar = progress.EpochProgress(0, 3, 250, 1, file=out)
    bar.update(100, {"loss": 0.2})
    bar.bar.refresh()
    assert "100/250" in screen(out.getvalue())[-1] and "loss: 0.2000" in out.getvalue()
    bar.close(LOGS)


@pytest.mark.parametrize("columns", [0, None], ids=["zero-columns", "unknown-width"])
def test_terminal_without_a_usable_width_gets_the_plain_line(width, columns):
    width(columns)
    text = run_epoch()
    assert "\r" not in text  # no bar drawn at all
    assert text.count("\n") == 1 and text.strip()  # one line, not a blank one
    for metric in SHOWN:
        assert metric in text


def test_not_a_terminal_gets_one_summary_line_per_epoch():
    text = run_epoch(file=io.StringIO())
    assert text.count("\n") == 1 and "\r" not in text
    for metric in SHOWN:
        assert metric in text


@pytest.mark.parametrize("verbose,lines", [(0, 0), (2, 1)])
def test_verbose_0_is_silent_and_verbose_2_prints_one_line_even_on_a_terminal(
    width, verbose, lines
):
    width(300)
    text = run_epoch(verbose=verbose)
    assert text.count("\n") == lines and "\r" not in text


def test_terminal_columns_is_none_without_a_terminal():
    assert progress.terminal_columns(io.StringIO()) is None
    assert progress.terminal_columns(object()) is None


def test_fit_on_an_80_column_terminal_shows_every_metric_of_every_epoch(width, monkeypatch):
    from netcore.layers import Dense
    from netcore.models import Sequential

    width(80)
    out = FakeTerminal()
    monkeypatch.setattr("sys.stdout", out)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3))
    y = (x[:, 0] > 0).astype(int)
    model = Sequential([Dense(2, activation="softmax", input_shape=(3,))], backend="cpu", seed=0)
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=1)
    lines = [line for line in screen(out.getvalue()) if line.startswith("Epoch ")]
    assert len(lines) == 2
    for epoch, line in enumerate(lines):
        for name in ("loss", "accuracy", "val_loss", "val_accuracy"):
            value = re.search(rf"(?:^| ){name}: ([0-9.]+)", line)
            assert value, f"{name} missing from {line!r}"
            assert float(value.group(1)) == pytest.approx(history.history[name][epoch], abs=1e-4)


# --------------------------------------------------------------------------- logs and pipes
class Clock:
    """A clock the test moves by hand, for the log's interval."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def steps_done(line: str) -> int:
    """The steps done that a log line reports (``Epoch 1/2 - 30/100 steps - ...``)."""
    found = re.search(r" (\d+)/\d+ steps", line)
    assert found, line
    return int(found.group(1))


def test_a_log_gets_a_running_line_at_most_every_log_interval_then_the_summary(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress, "_now", clock)
    out = io.StringIO()
    bar = progress.EpochProgress(0, 1, 100, 1, file=out)
    assert bar.mode == "log"
    due = []
    for step in range(1, 101):  # one second per step: 100 s in all
        clock.t += 1.0
        due.append(bar.wants_update)
        bar.update(step, {"loss": 1.0 / step})
    bar.close({"loss": 0.01})
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    # one running line per 10 s (steps 10, 20, ..., 100), then the epoch's summary line
    assert sum(due) == 10 and len(lines) == 11
    assert [steps_done(line) for line in lines[:-1]] == list(range(10, 101, 10))
    assert "loss: 0.1000" in lines[0] and lines[-1].endswith("loss: 0.0100")


def test_a_short_epoch_in_a_log_prints_only_its_summary_line(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(progress, "_now", clock)
    out = io.StringIO()
    bar = progress.EpochProgress(1, 2, 50, 1, file=out)
    for step in range(1, 51):
        clock.t += 0.1  # 5 s in all, under the log interval
        bar.update(step, {"loss": 0.5})
    bar.close(LOGS)
    assert out.getvalue().count("\n") == 1 and out.getvalue().startswith("Epoch 2/2 - 50/50")


_FIT_SCRIPT = """
import sys
import numpy as np
from netcore.layers import Dense
from netcore.models import Sequential
from netcore.training import progress
progress.EpochProgress.log_interval = float(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 3))
y = (x[:, 0] > 0).astype(int)
model = Sequential([Dense(2, activation="softmax", input_shape=(3,))], backend="cpu", seed=0)
model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=2, batch_size=8, verbose=int(sys.argv[1]))
print("done")
"""


def _fit_in_subprocess(verbose: int, log_interval: float, stdout: Any) -> Any:
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.getcwd(), "COLUMNS": "200"}
    return subprocess.Popen(
        [sys.executable, "-c", _FIT_SCRIPT, str(verbose), str(log_interval)],
        stdout=stdout,
        stderr=subprocess.STDOUT,
        env=env,
    )


def test_fit_piped_prints_running_lines_and_every_epochs_summary():
    import subprocess

    # A log interval of 0: every step is due a running line, so a short fit shows them.
    proc = _fit_in_subprocess(1, 0.0, subprocess.PIPE)
    text = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 0, text
    assert "\r" not in text and "\x1b" not in text  # no bar, no terminal codes in a log
    lines = [line for line in text.splitlines() if line.startswith("Epoch ")]
    for epoch in (1, 2):
        steps = [steps_done(line) for line in lines if line.startswith(f"Epoch {epoch}/2 ")]
        # running lines for steps 1..8, then the summary line at 8/8 with accuracy
        assert steps == [*range(1, 9), 8], lines
    assert "accuracy: " in lines[-1]


@pytest.mark.parametrize("verbose,count", [(2, 2), (0, 0)])
def test_fit_piped_with_verbose_2_prints_one_line_per_epoch_and_verbose_0_none(verbose, count):
    import subprocess

    proc = _fit_in_subprocess(verbose, 0.0, subprocess.PIPE)
    text = proc.communicate(timeout=120)[0].decode()
    assert proc.returncode == 0, text
    assert text.count("Epoch ") == count and text.rstrip().endswith("done"), text


def test_fit_on_a_real_terminal_draws_a_bar_in_place():
    import fcntl
    import os
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    # a 24 x 200 terminal (a new pty reports 0 x 0, which gets the plain lines)
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 200, 0, 0))
    proc = _fit_in_subprocess(1, 10.0, follower)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:  # the follower side closed: the process ended
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=120)
    os.close(leader)
    text = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0, text
    assert "\r" in text  # redrawn in place
    final = [line for line in screen(text.replace("\r\n", "\n")) if line.startswith("Epoch ")]
    assert len(final) == 2, final  # one finished bar per epoch
    for line in final:
        assert "100%" in line and "8/8" in line and "loss: " in line and "accuracy: " in line
