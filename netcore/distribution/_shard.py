"""How a global batch is split across ranks, and how each rank's share is weighted.

A global batch is rows ``start:stop`` of the epoch's order (the one single-process training
would use). Rank ``r`` of ``W`` takes the contiguous rows ``start + floor(n r / W)`` to
``start + floor(n (r + 1) / W)``: shares differ by at most one row, and a short batch
(``n < W``) leaves some ranks with none.

A mean loss over the global batch of ``n`` rows is the sample-weighted mean of the ranks'
mean losses, ``L = sum_r (n_r / n) L_r``, and so is its gradient. Each rank scales its
gradient by ``n_r / n`` and the allreduce only sums.
"""

from __future__ import annotations


def _check(rank: int, size: int) -> None:
    if size < 1 or not 0 <= rank < size:
        raise ValueError(
            f"rank must be in [0, size) with size >= 1, received rank={rank}, size={size}"
        )


def shard_bounds(start: int, stop: int, rank: int, size: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of the global rows ``[start, stop)`` that ``rank`` of ``size`` takes."""
    _check(rank, size)
    if stop < start:
        raise ValueError(f"stop must be >= start, received start={start}, stop={stop}")
    n = stop - start
    return start + n * rank // size, start + n * (rank + 1) // size


def shard_counts(n: int, size: int) -> list[int]:
    """Rows each rank takes of ``n`` rows (``sum == n``)."""
    return [hi - lo for lo, hi in (shard_bounds(0, n, r, size) for r in range(size))]


def shard_weight(local: int, total: int) -> float:
    """``n_r / n``: the factor a rank's mean-loss gradient takes before the sum."""
    if total <= 0 or not 0 <= local <= total:
        raise ValueError(
            f"need 0 <= local <= total and total > 0, received local={local}, total={total}"
        )
    return local / total
