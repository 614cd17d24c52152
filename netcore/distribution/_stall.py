"""Waiting in a collective without hanging silently: the stall report and the timeout.

A collective (an allreduce, a broadcast, ...) completes only once every rank has entered it.
When one rank never does (typically ``evaluate`` called on rank 0 alone, e.g. inside
``if dist.is_chief:`` in a callback), the others would wait forever without a word. Every
MPI collective of netcore is started non-blocking and waited for here (Horovod's "stall
check", PyTorch's process-group ``timeout``):

- after ``stall_s`` seconds (default 60, ``NETCORE_DIST_STALL_S``) the waiting rank asks every
  other rank, on a communicator of its own, what it is doing; a rank that waits in a netcore
  collective answers with its operation, one that computes (or waits outside netcore) does
  not. The waiting rank prints which operation it waits in and which ranks have not joined,
  and does so again after each further ``stall_s``;
- after ``timeout_s`` seconds (default None: wait on; ``NETCORE_DIST_TIMEOUT_S``) it prints the
  same report and ends the job (``MPI_Abort``).

Waiting polls ``MPI_Testall``: spinning for the first milliseconds (the latency of a step's
reduction is unchanged), then sleeping a millisecond between tests.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

#: seconds of waiting before the first report, and before the job ends (None: never)
DEFAULT_STALL_S = 60.0
STALL_VARIABLE = "NETCORE_DIST_STALL_S"
TIMEOUT_VARIABLE = "NETCORE_DIST_TIMEOUT_S"
_QUERY, _REPLY = 1, 2
#: seconds spent spinning before sleeping between tests; seconds before answering queries
_SPIN_S = 0.02
_LISTEN_S = 0.05
#: seconds to wait for the other ranks' answers before reporting without them
_ANSWER_S = 1.0

HINT = (
    "A collective completes only when every rank enters it. A typical cause: evaluate() or "
    "predict() called on rank 0 only (for example inside `if dist.is_chief:` in a callback); "
    "call it on every rank and print on rank 0 alone (docs/distributed.md)"
)


def positive_seconds(value: Any, name: str, variable: str, default: float | None) -> float | None:
    """``value`` checked as a positive number of seconds; None: the environment variable
    ``variable``, else ``default``."""
    source = name
    if value is None:
        text = os.environ.get(variable, "").strip()
        if not text:
            return default
        source = f"the environment variable {variable}"
        try:
            value = float(text)
        except ValueError:
            raise ValueError(
                f"{source} must be a positive number of seconds, received {text!r}"
            ) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1e9:
        raise ValueError(f"{source} must be a positive number of seconds, received {value!r}")
    return float(value)


class StallWatch:
    """Waits for MPI requests; reports a stall and ends the job after the timeout.

    ``side`` is a communicator of its own (a ``Dup`` of the world), used only for the
    questions "what are you doing?" between ranks; ``abort(text, code)`` ends the job."""

    def __init__(self, mpi: Any, side: Any, abort: Any) -> None:
        self.MPI = mpi
        self.side = side
        self.abort = abort
        self.rank = side.Get_rank()
        self.size = side.Get_size()
        self.stall_s: float = DEFAULT_STALL_S
        self.timeout_s: float | None = None
        #: the operation this rank waits in (None: not in a collective) and how many it began
        self.what: str | None = None
        self.count = 0
        self._sends: list[Any] = []
        self._queries = 0

    def wait(self, requests: list[Any], what: str) -> None:
        """Return once every request is complete."""
        test = self.MPI.Request.Testall
        if test(requests):
            return
        self.what = what
        self.count += 1
        start = time.monotonic()
        next_report = self.stall_s
        try:
            while not test(requests):
                waited = time.monotonic() - start
                if waited < _SPIN_S:
                    continue
                time.sleep(0.001)
                if waited >= _LISTEN_S:
                    self._answer()
                if self.timeout_s is not None and waited >= self.timeout_s:
                    text = self._report(self.timeout_s)
                    self.abort(f"{text}; timeout_s={self.timeout_s:g} s reached", 1)
                if waited >= next_report:
                    sys.stderr.write(
                        f"netcore: rank {self.rank} of {self.size}: {self._report(next_report)}\n"
                    )
                    sys.stderr.flush()
                    next_report += self.stall_s
        finally:
            self.what = None

    def _answer(self) -> None:
        """Answer every query that has arrived with this rank's operation."""
        status = self.MPI.Status()
        while self.side.iprobe(source=self.MPI.ANY_SOURCE, tag=_QUERY, status=status):
            asker = status.Get_source()
            query = self.side.recv(source=asker, tag=_QUERY)
            reply = (query, self.what, self.count)
            self._sends.append(self.side.isend(reply, dest=asker, tag=_REPLY))
        self._sends = [r for r in self._sends if not r.Test()]

    def _report(self, waited: float) -> str:
        """Ask the other ranks what they are doing; one line saying who has not joined
        (``waited``: the seconds this rank has waited at least)."""
        others = [r for r in range(self.size) if r != self.rank]
        self._queries += 1  # late answers to earlier queries are not taken for these
        for r in others:
            self._sends.append(self.side.isend(self._queries, dest=r, tag=_QUERY))
        answers: dict[int, tuple[str | None, int]] = {}
        deadline = time.monotonic() + _ANSWER_S
        while len(answers) < len(others) and time.monotonic() < deadline:
            self._answer()
            for r in others:
                while self.side.iprobe(source=r, tag=_REPLY):
                    query, what, count = self.side.recv(source=r, tag=_REPLY)
                    if query == self._queries:
                        answers[r] = (what, count)
            time.sleep(0.001)
        elsewhere = [
            f"rank {r} waits in {what} (its collective {count})"
            for r, (what, count) in sorted(answers.items())
            if what is not None and what != self.what
        ]
        same = [r for r, (what, _) in answers.items() if what == self.what]
        silent = [r for r in others if r not in answers or answers[r][0] is None]
        parts = [f"has waited {waited:g} s in {self.what} (collective {self.count} of this rank)"]
        if silent:
            parts.append(
                f"rank(s) {', '.join(map(str, silent))} have not joined: they are in no "
                "netcore collective (computing, finished, or waiting elsewhere)"
            )
        parts += elsewhere
        if same:
            parts.append(f"rank(s) {', '.join(map(str, sorted(same)))} wait in {self.what} too")
        return "; ".join(parts) + ". " + HINT
