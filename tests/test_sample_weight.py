"""sample_weight (fit, evaluate, train_on_batch) and class_weight (fit, train_on_batch) as in
Keras 3: each batch's loss is ``sum_i w_i l_i / N`` (sum_over_batch_size) and each metric the
weighted mean ``sum_i w_i v_i / sum_i w_i``, on the fused heads and the reference ops alike.
References: NumPy formulas of the Keras losses on the model's own predictions, central
differences in float64, and PyTorch's ``reduction='none'`` losses weighted by hand."""

from collections.abc import Callable

import numpy as np
import pytest

from netcore.backend.base import Backend
from netcore.backend.cpu import CPUBackend
from netcore.layers import Dense, Dropout, Layer
from netcore.models import Sequential
from netcore.optimizers import SGD
from netcore.training.feed import DataFeed
from netcore.utils import to_categorical

RNG = np.random.default_rng(11)
N = 24
X = RNG.normal(size=(N, 4))
LABELS = RNG.integers(0, 3, N)
W = RNG.uniform(0, 3, N)
W[[1, 5]] = 0.0
EPS = 1e-7

BACKENDS: dict[str, Callable[[], str | Backend]] = {
    "fused": lambda: "cpu",
    "reference": lambda: CPUBackend(seed=0, fused=False),
}


def model(loss, head, units, backend="fused", logits_to_loss=True, metrics=None):
    layers: list[Layer] = [
        Dense(6, activation="tanh", input_shape=(4,)),
        Dense(units, activation=head),
    ]
    if not logits_to_loss:  # a layer after the head keeps the loss on probabilities
        layers.append(Dropout(0.0))
    m = Sequential(layers, backend=BACKENDS[backend](), seed=3, dtype="float64")
    m.compile(optimizer=SGD(0.1), loss=loss, metrics=metrics or [])
    return m


def per_sample_loss(loss, p, y):
    """Keras' per-sample losses on probabilities (clipped as Keras clips them)."""
    if loss == "mse":
        return ((p - y) ** 2).mean(axis=1)
    q = np.clip(p, EPS, 1 - EPS)
    if loss == "binary_crossentropy":
        return -(y * np.log(q) + (1 - y) * np.log(1 - q)).mean(axis=1)
    t = to_categorical(y, p.shape[1]) if loss == "sparse_categorical_crossentropy" else y
    return -(t * np.log(q)).sum(axis=1)


CASES = {
    "mse": ("mse", "linear", 2, RNG.normal(size=(N, 2))),
    "binary_crossentropy": (
        "binary_crossentropy",
        "sigmoid",
        2,
        RNG.integers(0, 2, (N, 2)).astype(float),
    ),
    "categorical_crossentropy": (
        "categorical_crossentropy",
        "softmax",
        3,
        to_categorical(LABELS, 3),
    ),
    "sparse_categorical_crossentropy": ("sparse_categorical_crossentropy", "softmax", 3, LABELS),
}


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("logits_to_loss", [True, False], ids=["fused_head", "probabilities"])
@pytest.mark.parametrize("case", list(CASES))
def test_weighted_loss_is_the_weighted_sum_of_sample_losses_over_the_batch_size(
    case, logits_to_loss, backend
):
    loss, head, units, y = CASES[case]
    m = model(loss, head, units, backend, logits_to_loss)
    assert m._loss_takes_logits == (logits_to_loss and head != "linear")
    expected = (W * per_sample_loss(loss, m.predict(X), y)).sum() / N
    got = m.evaluate(X, y, batch_size=N, sample_weight=W)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


@pytest.mark.parametrize("case", list(CASES))
def test_evaluate_over_several_batches_means_the_batch_losses_by_batch_size(case):
    loss, head, units, y = CASES[case]
    m = model(loss, head, units)
    l_i = per_sample_loss(loss, m.predict(X), y)
    batches = [slice(0, 10), slice(10, 20), slice(20, N)]
    expected = sum((W[b] * l_i[b]).sum() / len(l_i[b]) * len(l_i[b]) for b in batches) / N
    np.testing.assert_allclose(
        m.evaluate(X, y, batch_size=10, sample_weight=W), expected, rtol=1e-10
    )


def test_weighted_metrics_are_weighted_means_over_the_whole_evaluation():
    y = CASES["mse"][3]
    m = model("mse", "linear", 2, metrics=["mae", "mse", "rmse"])
    p = m.predict(X)
    logs = m.evaluate(X, y, batch_size=7, sample_weight=W, return_dict=True)
    mae = (W * np.abs(p - y).mean(1)).sum() / W.sum()
    mse = (W * ((p - y) ** 2).mean(1)).sum() / W.sum()
    np.testing.assert_allclose(
        [logs["mae"], logs["mse"], logs["rmse"]], [mae, mse, np.sqrt(mse)], rtol=1e-10
    )


@pytest.mark.parametrize(
    "case", ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"]
)
def test_weighted_accuracy_counts_each_sample_by_its_weight(case):
    loss, head, units, y = CASES[case]
    m = model(loss, head, units, metrics=["accuracy"])
    p = m.predict(X)
    if case == "binary_crossentropy":
        hits = ((p > 0.5) == (y > 0.5)).mean(axis=1)
    else:
        hits = p.argmax(1) == (y if y.ndim == 1 else y.argmax(1))
    acc = m.evaluate(X, y, batch_size=5, sample_weight=W, return_dict=True)["accuracy"]
    np.testing.assert_allclose(acc, (W * hits).sum() / W.sum(), rtol=1e-12)


def test_metrics_of_samples_that_all_weigh_zero_read_zero_as_keras():
    loss, head, units, y = CASES["categorical_crossentropy"]
    logs = model(loss, head, units, metrics=["accuracy"]).evaluate(
        X, y, sample_weight=np.zeros(N), return_dict=True
    )
    assert logs == {"loss": 0.0, "accuracy": 0.0}


@pytest.mark.parametrize("backend", list(BACKENDS))
@pytest.mark.parametrize("case", list(CASES))
def test_the_step_follows_the_gradient_of_the_weighted_loss(case, backend):
    """SGD(lr) moves each weight by -lr * d/dw [sum_i w_i l_i / N]; the derivative is taken by
    central differences of the weighted loss in float64."""
    loss, head, units, y = CASES[case]
    m = model(loss, head, units, backend)
    before = m.get_weights()
    m.train_on_batch(X, y, sample_weight=W)
    step = [(a - b) / -0.1 for a, b in zip(m.get_weights(), before)]
    probe = model(loss, head, units, backend)
    h = 1e-6
    for k, w0 in enumerate(before):
        for idx in [(0,) * w0.ndim, tuple(s - 1 for s in w0.shape)]:
            vals = []
            for sign in (1, -1):
                ws = [w.copy() for w in before]
                ws[k][idx] += sign * h
                probe.set_weights(ws)
                vals.append(probe.evaluate(X, y, batch_size=N, sample_weight=W))
            np.testing.assert_allclose(
                step[k][idx], (vals[0] - vals[1]) / (2 * h), rtol=1e-5, atol=1e-8
            )


def test_the_step_matches_pytorch_losses_weighted_by_hand():
    torch = pytest.importorskip("torch", reason="PyTorch not installed (the oracle extra)")
    loss, head, units, y = CASES["sparse_categorical_crossentropy"]
    m = model(loss, head, units)
    k1, b1, k2, b2 = (torch.tensor(w, requires_grad=True) for w in m.get_weights())
    logits = torch.tanh(torch.tensor(X) @ k1 + b1) @ k2 + b2
    per = torch.nn.functional.cross_entropy(logits, torch.tensor(y), reduction="none")
    ((torch.tensor(W) * per).sum() / N).backward()
    m.train_on_batch(X, y, sample_weight=W)
    for got, p in zip(m.get_weights(), (k1, b1, k2, b2)):
        np.testing.assert_allclose(got, (p - 0.1 * p.grad).detach().numpy(), rtol=1e-10, atol=1e-12)


def test_unit_weights_train_as_no_weights():
    loss, head, units, y = CASES["categorical_crossentropy"]
    a, b = model(loss, head, units), model(loss, head, units)
    a.fit(X, y, batch_size=8, epochs=2, verbose=0)
    b.fit(X, y, batch_size=8, epochs=2, verbose=0, sample_weight=np.ones(N))
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-12)


def test_the_feed_gathers_each_weight_with_its_own_sample():
    x = np.arange(10.0).reshape(10, 1)
    feed = DataFeed(CPUBackend(), x, None, np.float64, np.float64, w=10 * np.arange(10.0))
    order = feed.order(np.random.default_rng(0).permutation(10))
    for s, e in ((0, 4), (4, 8), (8, 10)):
        xb, _ = feed.batch(s, e, order)
        np.testing.assert_array_equal(feed.weights(s, e, order), 10 * xb[:, 0])


def test_shuffled_weighted_training_matches_unshuffled_in_one_full_batch():
    loss, head, units, y = CASES["sparse_categorical_crossentropy"]
    a, b = model(loss, head, units), model(loss, head, units)
    a.fit(X, y, batch_size=N, epochs=1, verbose=0, sample_weight=W, shuffle=True)
    b.fit(X, y, batch_size=N, epochs=1, verbose=0, sample_weight=W, shuffle=False)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-12)


@pytest.mark.parametrize("case", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_class_weight_trains_as_the_matching_sample_weight(case):
    loss, head, units, y = CASES[case]
    table = {0: 0.5, 1: 2.0, 2: 1.25}
    a, b = model(loss, head, units), model(loss, head, units)
    a.fit(X, y, batch_size=8, epochs=2, verbose=0, class_weight=table)
    b.fit(
        X, y, batch_size=8, epochs=2, verbose=0, sample_weight=np.array([table[c] for c in LABELS])
    )
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)


def test_class_weight_of_a_one_unit_binary_head_uses_the_rounded_target():
    y = (X[:, :1] > 0).astype(float)
    m = Sequential(
        [Dense(1, activation="sigmoid", input_shape=(4,))], backend="cpu", seed=1, dtype="float64"
    )
    m.compile(optimizer=SGD(0.1), loss="binary_crossentropy")
    ref = Sequential.from_config(m.get_config(), backend="cpu")
    ref.compile(optimizer=SGD(0.1), loss="binary_crossentropy")
    m.train_on_batch(X, y, class_weight={0: 1.0, 1: 3.0})
    ref.train_on_batch(X, y, sample_weight=np.where(y[:, 0] > 0.5, 3.0, 1.0))
    for u, v in zip(m.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(u, v)


def test_validation_split_takes_the_last_weights_with_the_last_samples():
    loss, head, units, y = CASES["sparse_categorical_crossentropy"]
    m = model(loss, head, units)
    hist = m.fit(X, y, batch_size=8, epochs=1, verbose=0, sample_weight=W, validation_split=0.25)
    k = int(N * 0.75)
    np.testing.assert_allclose(
        hist.history["val_loss"][0],
        m.evaluate(X[k:], y[k:], batch_size=8, sample_weight=W[k:]),
        rtol=1e-12,
    )
    m2 = model(loss, head, units)
    hist2 = m2.fit(
        X[:k],
        y[:k],
        batch_size=8,
        epochs=1,
        verbose=0,
        sample_weight=W[:k],
        validation_data=(X[k:], y[k:], W[k:]),
    )
    assert hist2.history == hist.history


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (
            {"sample_weight": np.ones(N - 1)},
            r"sample_weight must have one weight per sample of x, shape \(24,\), received shape \(23,\)",
        ),
        ({"sample_weight": np.ones((N, 1))}, r"shape \(24,\), received shape \(24, 1\)"),
        ({"sample_weight": np.where(W > 1, np.nan, W)}, r"sample_weight holds NaN or inf"),
        ({"sample_weight": -W}, r"sample_weight must be >= 0, received -"),
        ({"sample_weight": ["a"] * N}, r"sample_weight must be numeric"),
        ({"class_weight": [1.0, 2.0, 3.0]}, r"class_weight must be a dict"),
        ({"class_weight": {0: 1.0, 1: 2.0}}, r"every class in y: classes \[2\] have none"),
        (
            {"class_weight": {0: 1.0, 1: 2.0, 2: -1.0}},
            r"class_weight values must be finite numbers >= 0, received -1.0 for class 2",
        ),
        (
            {"class_weight": {0: 1.0, 1: 2.0, 7: 1.0}},
            r"class_weight keys must be class indices in \[0, 3\), received 7",
        ),
        (
            {"class_weight": {0: 1, 1: 1, 2: 1}, "sample_weight": W},
            r"give sample_weight or class_weight, not both",
        ),
    ],
)
def test_bad_weights_are_refused_before_training(kwargs, match):
    loss, head, units, y = CASES["sparse_categorical_crossentropy"]
    m = model(loss, head, units)
    before = m.get_weights()
    with pytest.raises(ValueError, match=match):
        m.fit(X, y, verbose=0, **kwargs)
    for u, v in zip(m.get_weights(), before):
        np.testing.assert_array_equal(u, v)


def test_bad_validation_weights_name_the_validation_data():
    loss, head, units, y = CASES["sparse_categorical_crossentropy"]
    with pytest.raises(
        ValueError, match=r"validation_data sample_weight must have one weight per sample"
    ):
        model(loss, head, units).fit(X, y, verbose=0, validation_data=(X, y, W[:3]))
