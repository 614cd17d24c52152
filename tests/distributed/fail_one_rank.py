"""Rank 1 raises after its first epoch while rank 0 trains on: the job must end at once.

Without the abort, rank 0 would wait forever in the next step's allreduce.
"""

from __future__ import annotations

import numpy as np

import netcore
from netcore import callbacks, layers
from netcore.distribution import DataParallel, set_distribution


class FailOnRank(callbacks.Callback):
    def __init__(self, rank: int) -> None:
        self.rank = rank

    def on_epoch_end(self, epoch, logs=None):
        if self.rank == 1:
            raise RuntimeError("deliberate failure on rank 1 after epoch 1")


dist = DataParallel()
set_distribution(dist)
rng = np.random.default_rng(0)
x, y = rng.normal(size=(64, 4)), rng.normal(size=(64, 1))
model = netcore.Sequential(
    [layers.Dense(8, activation="relu", input_shape=(4,)), layers.Dense(1)], backend="cpu", seed=3
)
model.compile(optimizer="sgd", loss="mse")
model.fit(x, y, batch_size=8, epochs=1000, verbose=0, callbacks=[FailOnRank(dist.rank)])
