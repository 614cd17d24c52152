"""The model file's names: the format tag, its version and the archive's member names.

Shared by the writer (:mod:`.writer`) and the reader (:mod:`.reader`), which import nothing
else from each other.
"""

from __future__ import annotations

FORMAT = "netcore-model"
FORMAT_VERSION = 1
JSON_MEMBER = "netcore.json"


def weight_member(i: int) -> str:
    """The archive member of weight ``i`` (``get_weights()`` order)."""
    return f"weights/{i}.npy"


def slot_member(i: int, slot: str) -> str:
    """The archive member of optimizer state ``i``'s ``slot``."""
    return f"optimizer/{i}/{slot}.npy"
