"""An uncaught exception on one rank ends the whole job, with that rank's message.

Without this, the other ranks would wait forever in their next collective (an allreduce
cannot complete without every rank). The hook prints which rank failed and the traceback,
flushes, then calls ``MPI_Abort``: the launcher ends every process of the job.
"""

from __future__ import annotations

import sys
import threading
from types import TracebackType
from typing import Any

_installed: set[int] = set()
_lock = threading.Lock()


def announce_and_abort(comm: Any, text: str, code: int = 1) -> None:
    """Print ``text`` for rank ``comm.rank``, flush both streams, abort every rank."""
    sys.stdout.flush()
    sys.stderr.write(f"netcore: rank {comm.rank} of {comm.size}: {text}; aborting all ranks\n")
    sys.stderr.flush()
    comm.abort(code)


def install_abort_on_error(comm: Any) -> None:
    """Make an uncaught exception on this rank abort the job (once per communicator)."""
    with _lock:
        if id(comm) in _installed:
            return
        _installed.add(id(comm))
        previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        previous(kind, exc, tb)
        announce_and_abort(comm, f"uncaught {kind.__name__}: {exc}")

    sys.excepthook = hook
