"""Epoch bookkeeping: per-step losses and metric sums stay on the device until one read.

A step records its 0-d loss, its metric sums and (in training) a device copy of the step's
skip flag; ``sync`` stacks everything pending into one array and reads it to the host in a
single transfer, then folds it into running totals. The
epoch's logs are means weighted by batch size: ``loss = sum_b n_b loss_b / sum_b n_b`` and
``metric = m.result(sum_b metric_sum_b, sum_b n_b)``, where with per-sample weights the
metric's ``n_b`` is the batch's weight sum ``sum_i w_i`` (a device scalar read in the same
transfer); a metric whose weights sum to 0 reads 0, as Keras.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..backend.base import NONFINITE_UPDATE, Backend
from ..errors import NonFiniteLossError
from ..metrics import Metric


class EpochTracker:
    """Running loss and metrics of one epoch (or one ``evaluate``/``train_on_batch`` call).

    A training step fails when its loss is NaN/inf or when its recorded flag is raised (the
    optimizer refused an update that would have written a NaN or inf: the loss was finite).
    ``on_nonfinite(skipped)`` is called before :class:`NonFiniteLossError` is raised, with the
    number of recorded steps from the failing one to the last: their updates were turned into
    no-ops on the device, so the caller takes them back from the optimizer's step count and
    clears the device flag. Without it (inference), a NaN loss is reported as NaN, as Keras
    does.
    """

    def __init__(
        self,
        backend: Backend,
        metrics: Sequence[Metric],
        epoch: int = 0,
        on_nonfinite: Callable[[int], None] | None = None,
    ) -> None:
        self.backend = backend
        self.metrics = list(metrics)
        self.epoch = epoch
        self.on_nonfinite = on_nonfinite
        self.pending: list[tuple[Any, list[Any], int, Any, Any]] = []
        self.loss_sum = 0.0
        self.metric_sums = [0.0] * len(self.metrics)
        self.n = 0
        self.metric_n = 0.0
        self.steps = 0

    def record(
        self, loss: Any, sums: list[Any], count: int, flag: Any = None, weight: Any = None
    ) -> None:
        """Keep one step's device results (no host read). ``flag`` is a copy of the skip flag
        taken after the step's update (0: the update was applied); ``weight`` the sum of the
        batch's sample weights (None: unweighted, ``count``)."""
        self.pending.append((loss, sums, count, flag, weight))

    def sync(self) -> None:
        """Read every pending step to the host in one transfer and add it to the totals."""
        if not self.pending:
            return
        k = len(self.metrics)
        host = self._read_pending().reshape(len(self.pending), k + 3)
        for i, (_, _, count, _, weight) in enumerate(self.pending):
            if self.on_nonfinite is not None and (not np.isfinite(host[i, 0]) or host[i, -2]):
                self._fail(self.steps + i, float(host[i, 0]), int(host[i, -2]))
            self.loss_sum += float(host[i, 0]) * count
            for j in range(k):
                self.metric_sums[j] += float(host[i, j + 1])
            self.n += count
            self.metric_n += count if weight is None else float(host[i, -1])
        self.steps += len(self.pending)
        self.pending.clear()

    def _read_pending(self) -> np.ndarray:
        """The pending steps as float64 host rows: loss, metric sums, flag, weight sum (0
        where none was recorded)."""
        if self.backend.host_reads_are_cheap:
            # The values already live on the host (the CPU syncs every step): read them
            # one by one rather than stacking them into a new array first.
            return np.array(
                [
                    [
                        *(float(v) for v in (loss, *sums)),
                        0 if flag is None else flag.item(),  # a (1,) array
                        0 if weight is None else float(weight),
                    ]
                    for loss, sums, _, flag, weight in self.pending
                ],
                dtype=np.float64,
            )
        xp = self.backend.xp
        zero = xp.zeros((), dtype=xp.float64)
        flat = xp.stack(
            [
                xp.asarray(v, dtype=xp.float64).reshape(())
                for loss, sums, _, flag, weight in self.pending
                for v in (
                    loss,
                    *sums,
                    zero if flag is None else flag,
                    zero if weight is None else weight,
                )
            ]
        )
        return self.backend.to_numpy(flat)

    def _fail(self, step: int, value: float, flag: int) -> None:
        recorded = self.steps + len(self.pending)
        self.pending.clear()
        assert self.on_nonfinite is not None
        self.on_nonfinite(recorded - step)
        cause = "update" if np.isfinite(value) and flag == NONFINITE_UPDATE else "loss"
        raise NonFiniteLossError(self.epoch + 1, step + 1, value, cause=cause)

    def logs(self) -> dict[str, float]:
        """``{"loss": ..., <metric name>: ...}`` over the synced steps."""
        n = max(self.n, 1)
        out = {"loss": float(self.loss_sum / n)}
        for m, total in zip(self.metrics, self.metric_sums):
            out[m.name] = float(m.result(total, self.metric_n)) if self.metric_n > 0 else 0.0
        return out
