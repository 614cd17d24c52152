"""One rank leaves while the other trains on: ``python leave.py MODE``; the job must end.

- ``exit``: rank 1 calls ``sys.exit(0)`` in a callback after its first epoch;
- ``interrupt``: rank 1 gets ``KeyboardInterrupt`` in a callback after its first epoch;
- ``term``: rank 1 sends itself ``SIGTERM`` in a callback after its first epoch;
- ``stall``: rank 0 alone calls ``evaluate`` in a callback (inside ``if dist.is_chief:``),
  the mistake the stall report names; run with a short ``NETCORE_DIST_STALL_S`` and
  ``NETCORE_DIST_TIMEOUT_S``.
"""

from __future__ import annotations

import os
import signal
import sys

import numpy as np

import netcore
from netcore import callbacks, layers
from netcore.distribution import DataParallel, set_distribution

MODE = sys.argv[1]
dist = DataParallel()
set_distribution(dist)
rng = np.random.default_rng(0)
x, y = rng.normal(size=(64, 4)), rng.normal(size=(64, 1))


class Leave(callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if MODE == "exit" and dist.rank == 1:
            sys.exit(0)
        if MODE == "interrupt" and dist.rank == 1:
            raise KeyboardInterrupt
        if MODE == "term" and dist.rank == 1:
            os.kill(os.getpid(), signal.SIGTERM)
        if MODE == "stall" and dist.is_chief:
            self.model.evaluate(x, y, batch_size=16)


model = netcore.Sequential(
    [layers.Dense(8, activation="relu", input_shape=(4,)), layers.Dense(1)], backend="cpu", seed=3
)
model.compile(optimizer="sgd", loss="mse")
model.fit(x, y, batch_size=8, epochs=1000, verbose=0, callbacks=[Leave()])
