"""Every bad input gets a clear error, early, naming the argument, the expected and the received."""

import numpy as np
import pytest

import netcore as nc
from netcore.layers import Activation, Dense, Dropout
from netcore.models import Sequential
from netcore.utils import to_categorical

RNG = np.random.default_rng(0)
X = RNG.normal(size=(20, 4)).astype(np.float32)
Y = to_categorical(RNG.integers(0, 3, 20), 3)


def model(loss="categorical_crossentropy"):
    m = Sequential(
        [Dense(5, activation="relu", input_shape=(4,)), Dense(3, activation="softmax")],
        backend="cpu",
        seed=0,
    )
    m.compile(loss=loss)
    return m


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda m: m.fit(X, Y[:19], verbose=0), r"same number of rows.*x has 20, y has 19"),
        (
            lambda m: m.fit(X[:, :3], Y, verbose=0),
            r"x has 3 features per sample but the model's first layer expects 4",
        ),
        (
            lambda m: m.fit(X, Y[:, :2], verbose=0),
            r"one-hot width must match the 3 output units, received y of shape \(20, 2\)",
        ),
        (lambda m: m.fit(X, Y.argmax(1), verbose=0), r"expects one-hot targets.*to_categorical"),
        (lambda m: m.fit(np.where(X > 1, np.nan, X), Y, verbose=0), r"x holds NaN or inf"),
        (lambda m: m.fit(X, np.where(Y > 0, np.inf, Y), verbose=0), r"y holds NaN or inf"),
        (lambda m: m.fit(X[:0], Y[:0], verbose=0), r"non-empty array.*received shape \(0, 4\)"),
        (
            lambda m: m.fit(X, Y, batch_size=0, verbose=0),
            r"batch_size must be a positive integer, received 0",
        ),
        (
            lambda m: m.fit(X, Y, batch_size=2.5, verbose=0),
            r"batch_size must be a positive integer, received 2.5",
        ),
        (
            lambda m: m.fit(X, Y, epochs=-1, verbose=0),
            r"epochs must be a non-negative integer, received -1",
        ),
        (
            lambda m: m.fit(X, Y, validation_split=1.0, verbose=0),
            r"validation_split must be a number in \[0, 1\), received 1.0",
        ),
        (
            lambda m: m.fit(X, Y, validation_split=-0.1, verbose=0),
            r"validation_split must be a number in \[0, 1\)",
        ),
        (lambda m: m.fit(X, Y, verbose=3), r"verbose must be 0, 1, 2 or 'auto', received 3"),
        (
            lambda m: m.evaluate(X, Y, batch_size=-4),
            r"batch_size must be a positive integer, received -4",
        ),
        (
            lambda m: m.predict(X[:, :2]),
            r"x has 2 features per sample but the model's first layer expects 4",
        ),
        (
            lambda m: m.set_weights(m.get_weights()[:3]),
            r"set_weights expected a list of 4 arrays, received 3",
        ),
        (
            lambda m: m.set_weights([np.zeros((4, 6))] + m.get_weights()[1:]),
            r"weight 0 \(dense.kernel\) must have shape \(4, 5\), received \(4, 6\)",
        ),
        (lambda m: m.fit([[1, 2], [3]], Y, verbose=0), r"x must be a rectangular numeric array"),
    ],
)
def test_fit_evaluate_predict_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call(model())


def test_sparse_labels_out_of_range():
    m = model("sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"labels in y must be in \[0, 3\).*received 3"):
        m.fit(X, np.full(20, 3), verbose=0)
    with pytest.raises(ValueError, match=r"received -1"):
        m.fit(X, np.full(20, -1), verbose=0)


@pytest.mark.parametrize(
    "factory,match",
    [
        (lambda: Dense(units=0), r"units must be a positive integer, received 0"),
        (lambda: Dense(units=-3), r"units must be a positive integer, received -3"),
        (
            lambda: Dense(units=2.0),  # type: ignore[arg-type]
            r"units must be a positive integer, received 2.0",
        ),
        (
            lambda: Dense(4, activation="swish"),
            r"activation must be one of \['linear', 'relu', 'sigmoid', 'tanh', 'softmax'\].*'swish'",
        ),
        (lambda: Activation("gelu"), r"activation must be one of .*'gelu'"),
        (
            lambda: Dense(4, kernel_initializer="orthogonal"),
            r"kernel_initializer must be one of .*'orthogonal'",
        ),
        (lambda: Dense(4, input_shape=(0,)), r"input_shape must be a tuple of positive integers"),
        (lambda: Dropout(1.0), r"rate must be a number in \[0, 1\), received 1.0"),
        (lambda: Dropout(-0.2), r"rate must be a number in \[0, 1\), received -0.2"),
        (
            lambda: Sequential(backend="tpu"),
            r"backend must be one of \['cpu', 'cuda', 'auto'\], received 'tpu'",
        ),
        (
            lambda: Sequential(dtype="float16"),
            r"dtype must be one of \['float32', 'float64'\], received 'float16'",
        ),
        (lambda: model().compile(loss="hinge"), r"loss must be one of \[.*'mse'.*\].*'hinge'"),
        (
            lambda: model().compile(loss="mse", optimizer="lbfgs"),
            r"optimizer must be one of \['sgd', 'adam', 'adagrad', 'rmsprop'\].*'lbfgs'",
        ),
        (
            lambda: model().compile(loss="mse", metrics=["f1"]),
            r"metrics must be names from \[.*'accuracy'.*\], received 'f1'",
        ),
        (lambda: model().compile(loss="mse", metrics="accuracy"), r"metrics must be a list"),
        (lambda: nc.set_backend("gpu"), r"backend must be one of"),
        (
            lambda: to_categorical([0, 1, 5], num_classes=3),
            r"labels must be in \[0, 3\), received 5",
        ),
        (lambda: to_categorical([0, -1]), r"received -1"),
        (lambda: to_categorical([0.5, 1]), r"integer labels, received 0.5"),
    ],
)
def test_constructor_errors(factory, match):
    with pytest.raises(ValueError, match=match):
        factory()


def test_fit_before_compile():
    m = Sequential([Dense(3, input_shape=(4,))], backend="cpu")
    with pytest.raises(RuntimeError, match=r"must call model.compile\(...\) before model.fit\(\)"):
        m.fit(X, Y)


def test_env_backend_name_is_checked(monkeypatch):
    monkeypatch.setenv("NETCORE_BACKEND", "quantum")
    with pytest.raises(ValueError, match="NETCORE_BACKEND.*'quantum'"):
        Sequential()


@pytest.mark.parametrize(
    "call,name",
    [
        (lambda m, p: m.fit(X, Y, shuffle=1, verbose=0), "shuffle"),
        (lambda m, p: m.evaluate(X, Y, return_dict="yes"), "return_dict"),
        (lambda m, p: nc.optimizers.SGD(momentum=0.9, nesterov=1), "nesterov"),  # type: ignore[arg-type]
        (lambda m, p: m.save(p, allow_nonfinite="no"), "allow_nonfinite"),
        (lambda m, p: nc.load_model(p, allow_nonfinite=0), "allow_nonfinite"),  # type: ignore[arg-type]
    ],
)
def test_flags_take_true_or_false_only(tmp_path, call, name):
    """A truthy 1 or "no" is refused by name rather than read as True."""
    m = model()
    path = tmp_path / "m.netcore"
    m.save(path)
    with pytest.raises(ValueError, match=rf"^{name} must be True or False, received "):
        call(m, path)


@pytest.mark.parametrize(
    "shape,hint",
    [
        (
            (28, 28),
            "one image of shape (28, 28): flatten it into a batch of one row with "
            "x.reshape(1, 784)",
        ),
        ((28, 28, 1), "x.reshape(1, 784)"),
        (
            (5, 28, 28),
            "5 images of shape (28, 28): flatten each into a row with "
            "x.reshape(len(x), -1) (shape (5, 784))",
        ),
    ],
)
def test_images_given_to_a_flat_input_model_get_the_exact_reshape(shape, hint):
    m = Sequential([Dense(10, activation="softmax", input_shape=(784,))], backend="cpu", seed=0)
    m.compile(loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(0).random(shape)
    with pytest.raises(ValueError) as info:
        m.predict(x)
    assert hint in str(info.value)
    # the hint is right: the reshape it names is accepted
    fixed = eval(hint.split("with ")[-1].split(" (")[0], {"x": x, "len": len})
    assert m.predict(fixed).shape == (fixed.shape[0], 10)


def test_a_flat_input_of_the_wrong_width_gets_no_reshape_hint():
    m = Sequential([Dense(10, activation="softmax", input_shape=(784,))], backend="cpu", seed=0)
    with pytest.raises(ValueError, match=r"x has 30 features per sample .* expects 784$"):
        m.predict(np.zeros((5, 30)))
