"""A network with BatchNormalization trained under ``mpiexec -n N``: each rank writes its
moving statistics and its ``predict`` output to ``OUT/rank<r>.npz``.

``python tests/distributed/bn_state.py OUT``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

import netcore
from netcore import layers
from netcore.distribution import DataParallel

out = Path(sys.argv[1])
dist = DataParallel()
netcore.distribution.set_distribution(dist)
rng = np.random.default_rng(0)
x = rng.normal(1.0, 2.0, (64, 6))
y = np.eye(3)[rng.integers(0, 3, 64)]
model = netcore.Sequential(
    [
        layers.Dense(5, input_shape=(6,)),
        layers.BatchNormalization(momentum=0.5),
        layers.Dense(3, activation="softmax"),
    ],
    seed=1,
    dtype="float64",
)
model.compile(optimizer="sgd", loss="categorical_crossentropy")
model.fit(x, y, batch_size=16, epochs=2, verbose=0)
bn = model.layers[1]
np.savez(
    out / f"rank{dist.rank}.npz",
    mean=np.asarray(bn.state["moving_mean"]),
    var=np.asarray(bn.state["moving_variance"]),
    predict=model.predict(x),
)
