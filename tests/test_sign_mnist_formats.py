"""Sign-Language-MNIST's two label formats: Kaggle's (0..24, J=9 absent) and the course's
(0..23 contiguous), detected from the labels present and loaded as they are."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from netcore import datasets
from netcore.datasets import DataFileError, sign_mnist
from netcore.utils import to_categorical

HEADER = "label," + ",".join(f"pixel{i}" for i in range(1, 785))


def write_csv(path: Path, labels, seed: int = 0) -> np.ndarray:
    pixels = np.random.default_rng(seed).integers(0, 256, size=(len(labels), 784))
    lines = [HEADER] + [f"{lab}," + ",".join(map(str, px)) for lab, px in zip(labels, pixels)]
    path.write_text("\n".join(lines) + "\n")
    return pixels


COURSE_LABELS = list(range(24))  # every course letter once: 0..23, 9 = K present
KAGGLE_LABELS = [k for k in range(25) if k != 9]


def test_formats_name_the_letters_each_file_means():
    assert sign_mnist.KAGGLE.num_classes == 25 and sign_mnist.COURSE.num_classes == 24
    assert "".join(sign_mnist.COURSE.class_names) == "ABCDEFGHIKLMNOPQRSTUVWXY"
    assert sign_mnist.KAGGLE.class_names[9] == "J" and sign_mnist.KAGGLE.absent == (9,)
    # Both name every letter but J: the same 24 letters, numbered differently above 8.
    present = [sign_mnist.KAGGLE.class_names[k] for k in sign_mnist.PRESENT_LABELS]
    assert present == list(sign_mnist.COURSE.class_names)
    assert sign_mnist.label_to_letter(9, "course") == "K"
    assert sign_mnist.label_to_letter(23, "course") == "Y"
    assert sign_mnist.label_to_letter(9) == "J"
    with pytest.raises(ValueError, match=r"label must be in 0..23 \(course format\), got 24"):
        sign_mnist.label_to_letter(24, "course")
    with pytest.raises(ValueError, match="label_format must be one of 'kaggle', 'course'"):
        sign_mnist.label_to_letter(0, "keras")


@pytest.mark.parametrize(
    "labels, expected",
    [
        (COURSE_LABELS, "course"),  # a 9 occurs: Kaggle never has one
        (KAGGLE_LABELS, "kaggle"),  # a 24 occurs: the course's labels stop at 23
        ([3, 9, 12], "course"),
        ([0, 24], "kaggle"),
        ([0, 1, 8], "kaggle"),  # 0..8 are A..I in both: Kaggle's, the module's default
        ([10, 23], "kaggle"),  # above 9 with no 9: Kaggle's layout with J skipped
    ],
)
def test_detect_label_format_rule(labels, expected):
    assert sign_mnist.detect_label_format(np.array(labels, np.uint8)).name == expected


def test_detect_label_format_refuses_both_nine_and_twenty_four_and_empty():
    with pytest.raises(ValueError, match="both 9 and 24, which fits neither"):
        sign_mnist.detect_label_format(np.array([9]), np.array([24]))
    with pytest.raises(ValueError, match="at least one label"):
        sign_mnist.detect_label_format(np.array([], np.uint8))
    with pytest.raises(ValueError, match=r"labels must be in 0..24, received \[0, 25\]"):
        sign_mnist.detect_label_format(np.array([0, 25]))


def test_course_files_load_as_they_are_and_one_hot_with_24(tmp_path):
    px = write_csv(tmp_path / "sign_mnist_train.csv", COURSE_LABELS)
    write_csv(tmp_path / "sign_mnist_test.csv", [0, 9, 23], seed=1)
    (x, y), (xt, yt) = sign_mnist.load_data(tmp_path)
    assert y.tolist() == COURSE_LABELS and yt.tolist() == [0, 9, 23]  # never renumbered
    np.testing.assert_array_equal(x.reshape(24, -1), px)
    fmt = sign_mnist.detect_label_format(y, yt)
    assert fmt is sign_mnist.COURSE
    onehot = to_categorical(y, 24)  # the course notebook's call
    assert onehot.shape == (24, 24) and onehot[9, 9] == 1.0
    data = datasets.load("sign-mnist", tmp_path)
    assert data.num_classes == 24 and data.class_names == sign_mnist.COURSE.class_names
    assert "course's label format" in data.notes[0]


def test_kaggle_files_keep_25_classes(tmp_path):
    write_csv(tmp_path / "sign_mnist_train.csv", KAGGLE_LABELS)
    write_csv(tmp_path / "sign_mnist_test.csv", [1, 2])  # neither 9 nor 24: the train file decides
    (_, y), (_, yt) = sign_mnist.load_data(tmp_path)
    assert sign_mnist.detect_label_format(y, yt) is sign_mnist.KAGGLE
    data = datasets.load("sign-mnist", tmp_path)
    assert data.num_classes == 25 and data.class_names[24] == "Y"
    assert "25 output units" in data.notes[0]


def test_one_file_with_nine_and_twenty_four_names_both_lines(tmp_path):
    path = tmp_path / "sign_mnist_test.csv"
    write_csv(path, [0, 24, 5, 9])
    with pytest.raises(DataFileError, match=r"label 9 \(line 5\) and label 24 \(line 3\)"):
        sign_mnist.read_csv(path)


def test_train_and_test_of_different_formats_are_refused(tmp_path):
    write_csv(tmp_path / "sign_mnist_train.csv", [0, 9])
    write_csv(tmp_path / "sign_mnist_test.csv", [1, 24])
    msg = (
        re.escape(str(tmp_path / "sign_mnist_train.csv"))
        + r" uses the course's label format \(label 9 on line 3\) but "
        + re.escape(str(tmp_path / "sign_mnist_test.csv"))
        + r" uses Kaggle's \(label 24 on line 3\)"
    )
    with pytest.raises(DataFileError, match=msg):
        sign_mnist.load_data(tmp_path)
    with pytest.raises(DataFileError, match=msg):
        datasets.load("sign-mnist", tmp_path)


@pytest.mark.parametrize(
    "fmt, labels, line_msg",
    [
        (
            "kaggle",
            [0, 9],
            r"line 3: label 9 is not in the kaggle format \(labels 0..24, never 9\)",
        ),
        ("course", [0, 24], r"line 3: label 24 is not in the course format \(labels 0..23\)"),
    ],
)
def test_an_explicit_format_is_checked_on_every_row(tmp_path, fmt, labels, line_msg):
    path = tmp_path / "sign_mnist_test.csv"
    write_csv(path, labels)
    with pytest.raises(DataFileError, match=re.escape(str(path)) + ", " + line_msg):
        sign_mnist.read_csv(path, label_format=fmt)
    # Undeclared, the same file loads: it fits the other format.
    assert sign_mnist.read_csv(path)[1].tolist() == labels


def test_an_explicit_format_overrides_detection(tmp_path):
    write_csv(tmp_path / "sign_mnist_train.csv", [1, 10])
    write_csv(tmp_path / "sign_mnist_test.csv", [2])
    # Detected as Kaggle's (no 9, no 24); declared the course's it loads unchanged.
    (_, y), _ = sign_mnist.load_data(tmp_path, label_format="course")
    assert y.tolist() == [1, 10]
    with pytest.raises(ValueError, match="label_format must be one of"):
        sign_mnist.load_data(tmp_path, label_format="letters")
