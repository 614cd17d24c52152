"""Each optimizer against a two-step trajectory computed by hand from the Keras 3 formulas."""

import math

import numpy as np
import pytest

from netcore.backend.cpu import CPUBackend
from netcore.optimizers import SGD, Adagrad, Adam, RMSprop, get

G = [0.5, -0.25]  # the gradients of step 1 and step 2


def run(opt, w0=1.0, dtype=np.float64):
    be = CPUBackend()
    w = np.array([w0], dtype=dtype)
    opt.build(be, [w])
    traj = []
    for g in G:
        opt.apply([w], [np.array([g], dtype=dtype)])
        traj.append(float(w[0]))
    return traj


def test_sgd_plain():
    assert run(SGD(learning_rate=0.1)) == pytest.approx([0.95, 0.975])


def test_sgd_momentum():
    assert run(SGD(learning_rate=0.1, momentum=0.9)) == pytest.approx([0.95, 0.93])


def test_sgd_nesterov():
    assert run(SGD(learning_rate=0.1, momentum=0.9, nesterov=True)) == pytest.approx([0.905, 0.912])


def test_adam():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-7
    m1, v1 = 0.1 * 0.5, 0.001 * 0.25
    w1 = 1.0 - lr * math.sqrt(1 - b2) / (1 - b1) * m1 / (math.sqrt(v1) + eps)
    m2 = m1 + (-0.25 - m1) * 0.1
    v2 = v1 + (0.0625 - v1) * 0.001
    w2 = w1 - lr * math.sqrt(1 - b2**2) / (1 - b1**2) * m2 / (math.sqrt(v2) + eps)
    assert w1 == pytest.approx(0.9000006324, abs=1e-9)
    assert run(Adam(learning_rate=lr)) == pytest.approx([w1, w2], rel=1e-12)


def test_rmsprop():
    v1 = 0.1 * 0.25
    w1 = 1.0 - 0.1 * 0.5 / math.sqrt(v1 + 1e-7)
    v2 = 0.9 * v1 + 0.1 * 0.0625
    w2 = w1 + 0.1 * 0.25 / math.sqrt(v2 + 1e-7)
    assert run(RMSprop(learning_rate=0.1)) == pytest.approx([w1, w2], rel=1e-12)


def test_rmsprop_momentum():
    v1 = 0.1 * 0.25
    b1 = 0.1 * 0.5 / math.sqrt(v1 + 1e-7)
    v2 = 0.9 * v1 + 0.1 * 0.0625
    b2 = 0.5 * b1 - 0.1 * 0.25 / math.sqrt(v2 + 1e-7)
    assert run(RMSprop(learning_rate=0.1, momentum=0.5)) == pytest.approx(
        [1 - b1, 1 - b1 - b2], rel=1e-12
    )


def test_adagrad():
    a1 = 0.1 + 0.25
    w1 = 1.0 - 0.1 * 0.5 / math.sqrt(a1 + 1e-7)
    a2 = a1 + 0.0625
    w2 = w1 + 0.1 * 0.25 / math.sqrt(a2 + 1e-7)
    assert run(Adagrad(learning_rate=0.1)) == pytest.approx([w1, w2], rel=1e-12)


def test_keras_defaults():
    assert get("sgd").get_config() == {
        "name": "sgd",
        "learning_rate": 0.01,
        "momentum": 0.0,
        "nesterov": False,
    }
    assert get("adam").get_config() == {
        "name": "adam",
        "learning_rate": 0.001,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
    }
    assert get("adagrad").get_config() == {
        "name": "adagrad",
        "learning_rate": 0.001,
        "initial_accumulator_value": 0.1,
        "epsilon": 1e-7,
    }
    assert get("rmsprop").get_config() == {
        "name": "rmsprop",
        "learning_rate": 0.001,
        "rho": 0.9,
        "momentum": 0.0,
        "epsilon": 1e-7,
    }


def test_skip_flag_leaves_params_and_state_alone():
    for opt in (SGD(0.1, momentum=0.9), Adam(0.1), RMSprop(0.1, momentum=0.5), Adagrad(0.1)):
        be = CPUBackend()
        w = np.array([1.0, 2.0])
        opt.build(be, [w])
        before = [dict((k, v.copy()) for k, v in s.items()) for s in opt.state]
        opt.apply([w], [np.array([0.3, -0.1])], skip=np.array([1], dtype=np.int32))
        assert w.tolist() == [1.0, 2.0]
        for b, s in zip(before, opt.state):
            for k in s:
                np.testing.assert_array_equal(b[k], s[k])


@pytest.mark.parametrize(
    "bad",
    [
        lambda: SGD(learning_rate=0),
        lambda: SGD(learning_rate=-1),
        lambda: SGD(momentum=1.5),
        lambda: Adam(beta_1=1.0),
        lambda: RMSprop(rho=-0.1),
        lambda: Adagrad(epsilon=0),
        lambda: SGD(nesterov="yes"),  # type: ignore[arg-type]
        lambda: get("adamw"),
    ],
)
def test_bad_optimizer_arguments(bad):
    with pytest.raises(ValueError, match="must be|received"):
        bad()


def test_get_by_name_takes_keyword_arguments_over_the_keras_defaults():
    opt = get("adam", learning_rate=0.01)
    assert isinstance(opt, Adam)
    assert opt.get_config() == {
        "name": "adam",
        "learning_rate": 0.01,
        "beta_1": 0.9,
        "beta_2": 0.999,
        "epsilon": 1e-7,
    }
    assert get("SGD", momentum=0.5, nesterov=True).get_config() == {
        "name": "sgd",
        "learning_rate": 0.01,
        "momentum": 0.5,
        "nesterov": True,
    }


def test_get_refuses_unknown_keywords_and_keywords_with_an_instance():
    with pytest.raises(
        TypeError,
        match=r"'adam' takes \['learning_rate', 'beta_1', 'beta_2', "
        r"'epsilon'\], received unknown argument\(s\) \['momentum'\]",
    ):
        get("adam", momentum=0.9)
    with pytest.raises(ValueError, match="keyword arguments go with an optimizer name"):
        get(Adam(), learning_rate=0.1)
    with pytest.raises(
        ValueError, match=r"learning_rate must be a number in \(0.0, inf\), received -1"
    ):
        get("rmsprop", learning_rate=-1)


def test_from_config_rebuilds_every_optimizer_through_get():
    from netcore.optimizers import from_config

    for opt in (
        SGD(0.2, momentum=0.3, nesterov=True),
        Adam(0.01, beta_2=0.99),
        RMSprop(0.05, rho=0.8, momentum=0.1),
        Adagrad(0.3, initial_accumulator_value=0.5),
    ):
        again = from_config(opt.get_config())
        assert type(again) is type(opt) and again.get_config() == opt.get_config()


def test_rebuild_carries_the_state_of_kept_slices_and_initializes_the_rest():
    be = CPUBackend()
    opt = Adagrad(0.1, initial_accumulator_value=0.5)
    w = np.array([1.0, 2.0, 3.0])
    opt.build(be, [w])
    opt.apply([w], [np.array([1.0, 2.0, 3.0])])
    acc = opt.state[0]["accumulator"].copy()  # 0.5 + g^2 = [1.5, 4.5, 9.5]
    bigger = np.zeros(5)
    # elements 0..2 moved to 2..4 (a layer was inserted in front of them)
    opt.build(be, [bigger], carried=[(slice(0, 3), slice(2, 5))])
    np.testing.assert_array_equal(opt.state[0]["accumulator"], [0.5, 0.5, *acc])
    assert opt.iterations == 1
