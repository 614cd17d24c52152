"""Epoch bookkeeping: per-step losses and metric sums stay on the device until one read.

A step records its 0-d loss and its metric sums; ``sync`` stacks everything pending into one
array and reads it to the host in a single transfer, then folds it into running totals. The
epoch's logs are means weighted by batch size: ``loss = sum_b n_b loss_b / sum_b n_b`` and
``metric = m.result(sum_b metric_sum_b, sum_b n_b)``.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..backend.base import Backend
from ..errors import NonFiniteLossError
from ..metrics import Metric


class EpochTracker:
    """Running loss and metrics of one epoch (or one ``evaluate``/``train_on_batch`` call).

    ``on_nonfinite(skipped)`` is called before :class:`NonFiniteLossError` is raised, with the
    number of recorded steps from the first non-finite one to the last: their updates were
    turned into no-ops on the device, so the caller takes them back from the optimizer's step
    count and clears the device flag. Without it (inference), a NaN loss is reported as NaN,
    as Keras does.
    """

    def __init__(self, backend: Backend, metrics: Sequence[Metric], epoch: int = 0,
                 on_nonfinite: Callable[[int], None] | None = None) -> None:
        self.backend = backend
        self.metrics = list(metrics)
        self.epoch = epoch
        self.on_nonfinite = on_nonfinite
        self.pending: list[tuple[Any, list[Any], int]] = []
        self.loss_sum = 0.0
        self.metric_sums = [0.0] * len(self.metrics)
        self.n = 0
        self.steps = 0

    def record(self, loss: Any, sums: list[Any], count: int) -> None:
        """Keep one step's device results (no host read)."""
        self.pending.append((loss, sums, count))

    def sync(self) -> None:
        """Read every pending step to the host in one transfer and add it to the totals."""
        if not self.pending:
            return
        xp = self.backend.xp
        k = len(self.metrics)
        flat = xp.stack([xp.asarray(v, dtype=xp.float64) for loss, sums, _ in self.pending
                         for v in (loss, *sums)])
        host = self.backend.to_numpy(flat).reshape(len(self.pending), k + 1)
        for i, (_, _, count) in enumerate(self.pending):
            if self.on_nonfinite is not None and not np.isfinite(host[i, 0]):
                self._fail(self.steps + i, float(host[i, 0]))
            self.loss_sum += float(host[i, 0]) * count
            for j in range(k):
                self.metric_sums[j] += host[i, j + 1]
            self.n += count
        self.steps += len(self.pending)
        self.pending.clear()

    def _fail(self, step: int, value: float) -> None:
        recorded = self.steps + len(self.pending)
        self.pending.clear()
        assert self.on_nonfinite is not None
        self.on_nonfinite(recorded - step)
        raise NonFiniteLossError(self.epoch + 1, step + 1, value)

    def logs(self) -> dict[str, float]:
        """``{"loss": ..., <metric name>: ...}`` over the synced steps."""
        n = max(self.n, 1)
        out = {"loss": float(self.loss_sum / n)}
        for m, total in zip(self.metrics, self.metric_sums):
            out[m.name] = float(m.result(total, n))
        return out
