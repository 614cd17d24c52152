"""Files and failures that every rank must see alike.

``python save_load_nan.py OUT``, on every rank:

1. trains a little, saves to ``OUT/from_rank<r>.netcore`` (rank 0 alone writes), waits at a
   barrier, then loads rank 0's file and predicts (every rank can load);
2. trains on data whose row 13 overflows to inf: only the rank holding that row sees a NaN
   loss, yet every rank must stop at the same step with NonFiniteLossError and keep the
   weights of the last good step.

Writes ``OUT/rank<r>.npz``. Without mpiexec it is the one-process reference.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

import netcore
from netcore import layers
from netcore.distribution import DataParallel, set_distribution
from netcore.errors import NonFiniteLossError


def model() -> netcore.Sequential:
    m = netcore.Sequential(
        [layers.Dense(8, activation="relu", input_shape=(4,)), layers.Dense(1)],
        backend="cpu",
        seed=11,
        dtype="float64",
    )
    m.compile(optimizer="sgd", loss="mse")
    return m


out = Path(sys.argv[1])
dist = DataParallel()
set_distribution(dist)
rng = np.random.default_rng(0)
x = rng.normal(size=(40, 4))
y = x[:, :1] - x[:, 1:2]

first = model()
first.fit(x, y, batch_size=8, epochs=1, verbose=0)
first.save(out / f"from_rank{dist.rank}.netcore")
dist.barrier()
loaded = netcore.load_model(out / "from_rank0.netcore")
pred = loaded.predict(x[:5])

x[13] = 1e200  # (1e200)^2 overflows: that row's loss is inf, then its gradient NaN
second = model()
stopped = ""
try:
    second.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
except NonFiniteLossError as exc:
    stopped = f"epoch {exc.epoch}, step {exc.step}"
assert second.optimizer is not None
arrays: dict[str, Any] = {f"weight{i}": w for i, w in enumerate(second.get_weights())}
arrays.update(
    pred=pred, stopped=np.array(stopped), iterations=np.array(second.optimizer.iterations)
)
np.savez(out / f"rank{dist.rank}.npz", **arrays)
