"""netcore.course: the overfitting verdict on hand-made histories, the course MLP, and the
walk-through's old import path."""

from __future__ import annotations

import numpy as np
import pytest

from netcore.course import OVERFIT_THRESHOLD, build_mlp, overfitting_advice


def verdict(lines: list[str]) -> str:
    return lines[0].split(":")[0]


# -- two real runs whose verdict is easy to get wrong ------------------------------------------


def test_validation_far_above_training_after_one_epoch_is_a_mismatch_not_no_sign():
    # fashion-mnist --epochs 1 --limit 3000: training 0.6383, validation 0.7467 (gap 0.108)
    lines = overfitting_advice(0.6383, 0.7467, [0.69])
    assert verdict(lines) == "MISMATCH"
    assert "above training accuracy (0.6383) by 0.1084" in lines[0]
    assert not any("No sign" in line for line in lines)


def test_validation_loss_rising_for_two_epochs_is_overfitting_while_accuracies_are_close():
    # MNIST, 5 epochs: accuracies 0.9888 / 0.9615 (gap 0.0273 < 0.03), validation loss lowest
    # after epoch 3 (0.1664), 0.1719 after epoch 5.
    lines = overfitting_advice(0.9888, 0.9615, [0.30, 0.20, 0.1664, 0.1690, 0.1719])
    assert verdict(lines) == "OVERFITTING"
    assert "risen for 2 epochs since its lowest point" in lines[0]
    assert "still within 0.03" in lines[0]
    assert "lowest after epoch 3 (0.1664) and is 0.1719 after epoch 5" in lines[1]
    assert "--patience" in lines[2]


# -- every branch ------------------------------------------------------------------------------


def test_training_far_above_validation_is_overfitting():
    lines = overfitting_advice(0.99, 0.90, [0.4, 0.3, 0.25])
    assert verdict(lines) == "OVERFITTING"
    assert "trails training accuracy (0.9900) by 0.0900" in lines[0]
    assert len(lines) == 2 and lines[1].startswith("Try:")  # no loss trend to report


def test_gap_and_rising_loss_name_both_signs():
    lines = overfitting_advice(0.99, 0.90, [0.3, 0.2, 0.25, 0.3])
    assert verdict(lines) == "OVERFITTING" and "trails" in lines[0]
    assert "lowest after epoch 2 (0.2000) and is 0.3000 after epoch 4" in lines[1]


def test_rising_loss_with_validation_far_above_training_is_still_overfitting():
    lines = overfitting_advice(0.70, 0.80, [0.5, 0.4, 0.45, 0.5])
    assert verdict(lines) == "OVERFITTING"
    assert "still within" not in lines[0]  # they are not close


def test_one_epoch_of_rising_loss_is_a_watch():
    lines = overfitting_advice(0.97, 0.96, [0.3, 0.2, 0.21])
    assert verdict(lines) == "WATCH"
    assert "went up in the last epoch" in lines[0]
    assert "lowest after epoch 2" in lines[1]


def test_close_accuracies_and_falling_loss_are_no_sign():
    lines = overfitting_advice(0.97, 0.96, [0.3, 0.2, 0.15])
    assert lines == [
        "No sign of overfitting: validation accuracy (0.9600) is within 0.03 of "
        "training accuracy (0.9700) and validation loss is at its lowest."
    ]
    assert overfitting_advice(0.97, 0.96) == [
        "No sign of overfitting: validation accuracy (0.9600) is within 0.03 of training "
        "accuracy (0.9700)."
    ]


@pytest.mark.parametrize(
    "train, val, losses",
    [
        (0.99, 0.90, [0.3, 0.2, 0.1]),  # gap over the threshold
        (0.97, 0.96, [0.3, 0.2, 0.25, 0.3]),  # loss risen for 2 epochs
        (0.97, 0.96, [0.2, 0.3, 0.4, 0.5]),  # risen from the first epoch
    ],
)
def test_never_no_sign_with_a_gap_or_a_two_epoch_rise(train, val, losses):
    assert not any(line.startswith("No sign") for line in overfitting_advice(train, val, losses))


def test_the_threshold_is_the_boundary_both_ways():
    assert verdict(overfitting_advice(0.90 + OVERFIT_THRESHOLD + 0.001, 0.90)) == "OVERFITTING"
    assert (
        verdict(overfitting_advice(0.90 + OVERFIT_THRESHOLD - 0.001, 0.90))
        == "No sign of overfitting"
    )
    assert verdict(overfitting_advice(0.90, 0.90 + OVERFIT_THRESHOLD + 0.001)) == "MISMATCH"
    assert verdict(overfitting_advice(0.90, 0.95, threshold=0.1)) == "No sign of overfitting"


def test_few_validation_images_make_the_comparison_rough():
    lines = overfitting_advice(0.97, 0.96, n_val=50)
    assert lines[-1] == (
        "(With only 50 validation images each one moves validation accuracy "
        "by 0.020: treat this comparison as rough.)"
    )
    assert len(overfitting_advice(0.97, 0.96, n_val=2000)) == 1


# -- the course MLP --------------------------------------------------------------------------


def test_build_mlp_is_flatten_dense_relu_dropout_dense_softmax():
    model = build_mlp(25, (32, 16), dropout=0.2, backend="cpu", seed=3)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["Flatten", "Dense", "Dropout", "Dense", "Dropout", "Dense"]
    out = model.predict(np.zeros((2, 28, 28), np.float32))
    assert out.shape == (2, 25)
    np.testing.assert_allclose(np.asarray(out).sum(axis=1), 1.0, rtol=1e-5)  # softmax
    same = build_mlp(25, (32, 16), dropout=0.2, backend="cpu", seed=3)
    for a, b in zip(model.get_weights(), same.get_weights()):
        np.testing.assert_array_equal(a, b)  # seeded


def test_build_mlp_without_hidden_layers_is_softmax_regression():
    model = build_mlp(10, (), backend="cpu")
    assert [type(layer).__name__ for layer in model.layers] == ["Flatten", "Dense"]
    assert sum(w.size for w in model.get_weights()) == 784 * 10 + 10


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"hidden": 512}, r"hidden must be a sequence of layer sizes .*, received 512"),
        ({"hidden": "512"}, r"hidden must be a sequence of layer sizes .*, received '512'"),
        ({"dropout": -0.2}, r"dropout must be a number in \[0, 1\), received -0.2"),
        ({"dropout": 1.0}, r"dropout must be a number in \[0, 1\), received 1.0"),
        ({"dropout": "0.2"}, r"dropout must be a number in \[0, 1\), received '0.2'"),
    ],
)
def test_build_mlp_rejects_bad_hidden_and_dropout_naming_them(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_mlp(10, backend="cpu", **kwargs)


def test_walkthrough_refuses_more_steps_than_it_needs():
    from netcore.course import linear

    with pytest.raises(
        ValueError, match=r"steps must be an integer in \[0, 10000\], received 10001"
    ):
        linear.run_walkthrough(0.1, linear.MAX_STEPS + 1)
