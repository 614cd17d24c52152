"""What every rank must agree on before a distributed ``evaluate`` or ``predict``.

A distributed ``evaluate``/``predict`` splits the rows across the ranks and sums or gathers
the results: every rank must make the same call (operation, row count, ``batch_size``, input
shape), or the ranks would run different numbers of collectives (one returning while another
waits) or gather rows that were never computed. And every rank must hold the same weights:
ranks that built their model with ``seed=None`` drew different ones, and take rank 0's here.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from ..errors import NetcoreError


class DistributionMismatchError(NetcoreError, ValueError):
    """The ranks do not run the same training (model, seed, weights, data or fit arguments)."""


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def check_inference(comm: Any, model: Any, what: str, n: int, batch_size: int) -> None:
    """Refuse, on every rank alike, a ``what`` call that differs between ranks; then give
    every rank rank 0's weights (and seed) when ranks without a given seed differ."""
    be = model.backend
    call = {
        "operation": what,
        "rows": n,
        "batch_size": batch_size,
        "input shape": str(tuple(model.input_shape)),
    }
    weights = digest(np.ascontiguousarray(be.to_numpy(model._flat_params)).tobytes())
    given = bool(getattr(model, "_seed_given", True))
    seen = comm.allgather_obj((call, given, model.seed, weights), what=f"check of the {what} call")
    problems = []
    for r, (theirs, _, _, _) in enumerate(seen[1:], start=1):
        diff = [k for k in call if theirs[k] != seen[0][0][k]]
        if diff:
            shown = "; ".join(f"{k} (rank 0: {seen[0][0][k]}, rank {r}: {theirs[k]})" for k in diff)
            problems.append(f"rank {r} differs from rank 0 in {shown}")
    if problems:
        raise DistributionMismatchError(
            f"DataParallel: the ranks do not make the same {what} call: "
            + "; ".join(problems)
            + f". Under a distribution {what} splits the rows across the ranks: call it on "
            "every rank with the same data and batch_size (and print on rank 0 alone)."
        )
    if len({w for *_, w in seen}) == 1:
        return
    if all(g for _, g, _, _ in seen):
        differ = [r for r, (*_, w) in enumerate(seen) if w != seen[0][3]]
        raise DistributionMismatchError(
            f"DataParallel: rank(s) {differ} hold other weights than rank 0 before {what}, "
            "though every rank gave a seed; every rank must build, train and load the same "
            "model (set_weights or load_model on every rank, not on one)."
        )
    # seed=None somewhere: each rank drew its own weights; all take rank 0's
    model.seed = seen[0][2]
    host = np.ascontiguousarray(be.to_numpy(model._flat_params))
    comm.bcast(host, what=f"check of the {what} call")
    model._flat_params[...] = be.asarray(host)
