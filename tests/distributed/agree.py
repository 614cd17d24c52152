"""Ranks that would disagree about an inference call or about stopping: ``python agree.py OUT``.

Each case writes what rank r saw to ``OUT/<case>.rank<r>.txt``:

- ``rows``: ``predict`` on 12 rows on rank 0 and 13 on rank 1;
- ``batch``: ``evaluate`` with ``batch_size`` 4 on rank 0 and 5 on rank 1;
- ``no-seed``: models built with ``seed=None`` (each rank draws its own weights), then
  ``predict`` and ``evaluate`` without any ``fit``;
- ``stop``: a callback sets ``model.stop_training`` on rank 1 alone after epoch 2 of 6.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import netcore
from netcore import callbacks, layers
from netcore.distribution import DataParallel, DistributionMismatchError, set_distribution


def model(seed: int | None = 4) -> netcore.Sequential:
    m = netcore.Sequential(
        [layers.Dense(8, activation="relu", input_shape=(4,)), layers.Dense(1)],
        backend="cpu",
        seed=seed,
        dtype="float64",
    )
    m.compile(optimizer="sgd", loss="mse")
    return m


def attempt(case: str, rank: int) -> str:
    x = np.random.default_rng(1).normal(size=(40, 4))
    y = x[:, :1] * 2
    try:
        if case == "rows":
            out = model().predict(x[: 12 + rank], batch_size=4)
            return f"returned {out.shape[0]} rows"
        if case == "batch":
            return f"returned {model().evaluate(x, y, batch_size=4 + rank)}"
        if case == "no-seed":
            m = model(seed=None)
            pred = m.predict(x, batch_size=8)
            loss = m.evaluate(x, y, batch_size=8)
            weights = np.concatenate([w.ravel() for w in m.get_weights()])
            return f"seed {m.seed} predict {pred.tobytes().hex()} loss {loss!r} {weights.tobytes().hex()}"
        if case == "stop":

            class Budget(callbacks.Callback):
                def on_epoch_end(self, epoch, logs=None):
                    if rank == 1 and epoch == 1:
                        self.model.stop_training = True

            hist = model().fit(x, y, batch_size=8, epochs=6, verbose=0, callbacks=[Budget()])
            return f"trained {len(hist.history['loss'])} epochs"
    except DistributionMismatchError as exc:
        return f"refused: {exc}"
    raise ValueError(case)


dist = DataParallel()
set_distribution(dist)
for case in ("rows", "batch", "no-seed", "stop"):
    (Path(sys.argv[1]) / f"{case}.rank{dist.rank}.txt").write_text(attempt(case, dist.rank))
