"""A mistyped option gets its subcommand's usage and the closest option it has."""

from __future__ import annotations

import pytest

from netcore.cli import build_parser, main


@pytest.mark.parametrize(
    "argv,usage,suggestion",
    [
        (["train", "--dataset", "mnist", "--epocs", "2"], "usage: netcore train ", "--epochs"),
        (["train", "--dataset", "mnist", "--epocs=2"], "usage: netcore train ", "--epochs"),
        (
            ["train", "--dataset", "mnist", "--batchsize", "8"],
            "usage: netcore train ",
            "--batch-size",
        ),
        (["linear", "--learning_rate", "0.1"], "usage: netcore linear ", "--learning-rate"),
        (["plot", "samples", "--outt", "x"], "usage: netcore plot samples ", "--out"),
    ],
)
def test_a_mistyped_option_gets_the_commands_usage_and_a_suggestion(
    argv, usage, suggestion, capsys
):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(usage), err
    bad = argv[-2] if "=" not in argv[-1] else argv[-1]
    assert f"error: unrecognized arguments: {bad}" in err
    assert err.rstrip().endswith(f"(did you mean {suggestion}?)"), err


def test_an_option_like_none_the_command_has_gets_no_guess(capsys):
    assert main(["train", "--dataset", "mnist", "--zzzzzz"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: netcore train ") and "did you mean" not in err
    assert err.rstrip().endswith("unrecognized arguments: --zzzzzz")


def test_a_stray_word_is_named_without_a_guess(capsys):
    assert main(["info", "extra"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: netcore info ") and "unrecognized arguments: extra" in err
    assert "did you mean" not in err


def test_correct_options_still_parse():
    args = build_parser().parse_args(["train", "--dataset", "mnist", "--epochs", "2", "--debug"])
    assert (args.epochs, args.dataset, args.debug) == (2, "mnist", True)
    args = build_parser().parse_args(["plot", "samples", "--out", "d"])
    assert (args.figure, args.out) == ("samples", "d")
