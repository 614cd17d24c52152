"""What every result file records: the commit measured (and whether the tree was clean), the
machine and the date."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any


def provenance() -> dict[str, Any]:
    """The commit this tree is at and whether it was clean (uncommitted changes to tracked
    files), the machine and the date, as every result file records them."""
    import datetime
    import platform

    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, check=False
            ).stdout.strip()
        except OSError:
            return ""

    return {
        "commit": git("rev-parse", "HEAD") or "unknown",
        "tree_clean": git("status", "--porcelain", "--untracked-files=no") == "",
        "machine": f"{platform.node()} ({platform.machine()}, {os.cpu_count()} CPUs)",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    }
