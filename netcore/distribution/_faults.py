"""A rank that fails or leaves ends the whole job, and its message reaches the user whole.

Without this, the other ranks would wait forever in their next collective (an allreduce
cannot complete without every rank). Three ways out of a rank are covered:

- an uncaught exception (``sys.excepthook``);
- ``SystemExit`` (``sys.exit`` in a callback) or ``KeyboardInterrupt`` leaving ``fit``
  (:func:`end_job_for`; ``sys.excepthook`` never sees ``SystemExit``);
- ``SIGTERM`` (a handler, installed where the signal still has its default action).

Each writes one message (which rank, what happened, the traceback) to stderr in a single
``write``, waits ``FLUSH_GRACE_S`` so that the launcher forwards it (``MPI_Abort`` makes the
launcher end every process at once, and a message still in its pipes would be cut off), then
calls ``MPI_Abort``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
import traceback
from types import FrameType, TracebackType
from typing import Any

#: seconds between writing a failing rank's message and aborting the job
FLUSH_GRACE_S = 0.5

_installed: set[int] = set()
_lock = threading.Lock()


def _write_all(fd: int, data: bytes) -> None:
    while data:
        try:
            written = os.write(fd, data)
        except InterruptedError:
            continue
        except OSError:
            return
        data = data[written:]


def announce_and_abort(
    comm: Any, text: str, code: int = 1, exc: BaseException | None = None
) -> None:
    """Print ``text`` (and ``exc``'s traceback) for rank ``comm.rank`` in one write, give the
    launcher time to forward it, and abort every rank with exit status ``code``."""
    with contextlib.suppress(Exception):
        sys.stdout.flush()
    with contextlib.suppress(Exception):
        sys.stderr.flush()
    lines = []
    if exc is not None:
        lines += traceback.format_exception(type(exc), exc, exc.__traceback__)
    lines.append(f"netcore: rank {comm.rank} of {comm.size}: {text}; aborting all ranks\n")
    _write_all(2, "".join(lines).encode("utf-8", "replace"))
    time.sleep(FLUSH_GRACE_S)
    comm.abort(code)
    os._exit(code)  # MPICH's MPI_Abort may return before the launcher ends the process


def exit_code(exc: BaseException) -> int:
    """The job's exit status for a rank leaving by ``exc``: 130 for Ctrl-C, SystemExit's own
    non-zero code, else 1 (a rank leaving alone is a failure even with code 0)."""
    if isinstance(exc, KeyboardInterrupt):
        return 130
    if isinstance(exc, SystemExit) and isinstance(exc.code, int) and 0 < exc.code < 256:
        return exc.code
    return 1


def install_abort_on_error(comm: Any) -> None:
    """Make an uncaught exception or SIGTERM on this rank abort the job (once per
    communicator)."""
    with _lock:
        if id(comm) in _installed:
            return
        _installed.add(id(comm))

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        exc.__traceback__ = tb
        announce_and_abort(comm, f"uncaught {kind.__name__}: {exc}", exit_code(exc), exc)

    sys.excepthook = hook
    if threading.current_thread() is threading.main_thread():
        with contextlib.suppress(ValueError, OSError):
            if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:

                def on_term(signum: int, frame: FrameType | None) -> None:
                    stack = "".join(traceback.format_stack(frame)) if frame else ""
                    announce_and_abort(comm, f"received SIGTERM at\n{stack}".rstrip(), 128 + signum)

                signal.signal(signal.SIGTERM, on_term)


def end_job_for(comm: Any, exc: BaseException, what: str) -> None:
    """This rank leaves ``what`` by ``exc`` (``SystemExit`` from ``sys.exit`` in a callback,
    ``KeyboardInterrupt``): say so with the traceback and end every rank's job. Exceptions do
    not come here: every rank raises the same ones (a mismatch, a NaN loss), and an uncaught
    one aborts through ``sys.excepthook``."""
    detail = f" ({exc.code!r})" if isinstance(exc, SystemExit) else ""
    announce_and_abort(comm, f"{type(exc).__name__}{detail} during {what}", exit_code(exc), exc)
