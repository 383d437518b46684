"""Every numeric flag of every sub-command is range-checked; argument errors are one line."""

from __future__ import annotations

import argparse

import pytest

from placement_search import cli
from placement_search.errors import PlacementSearchError


def numeric_flags() -> dict[tuple[str, str], type]:
    """(command, dest) -> type of every int/float option of every sub-command, plugins included."""
    parser = cli._parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = {}
    for command, p in sub.choices.items():
        for action in p._actions:
            if action.type in (int, float):
                found[(command, action.dest)] = action.type
    return found


def test_every_numeric_flag_has_a_range():
    flags = numeric_flags()
    assert ("run", "max_concurrent") in flags and ("analyze", "n_boot") in flags and ("submit", "seed") in flags
    unchecked = [f"{c} {cli._flag(d)}" for (c, d), t in flags.items()
                 if d not in (cli.INT_FLAGS if t is int else cli.FLOAT_FLAGS)]
    assert not unchecked, f"add these flags to cli.INT_FLAGS / FLOAT_FLAGS: {unchecked}"


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "c.yaml", "--seed", "0", "--num-samples", "1", "--max-concurrent", "1"],
        ["run", "c.yaml", "--seed", str(2**32 - 1)],
        ["gga", "c.yaml", "-k", "1", "--gamma", "0"],
        ["gga", "c.yaml", "--gamma", "0.99"],
        ["show", "x", "--top", "1"],
        ["analyze", "--store", "s", "--n-boot", "0"],
    ],
)
def test_values_at_the_limits_pass(argv):
    cli.check_flags(cli._parser().parse_args(argv))


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "c.yaml", "--seed", str(2**32)], "--seed must be from 0 to 4294967295, got 4294967296"),
        (["gga", "c.yaml", "--gamma", "1"], "--gamma must be in [0, 1), got 1.0"),
        (["gga", "c.yaml", "--gamma=-inf"], "--gamma must be in [0, 1), got -inf"),
        (["submit", "c.yaml", "--max-concurrent", "0"], "--max-concurrent must be at least 1, got 0"),
    ],
)
def test_values_beyond_the_limits_fail(argv, message):
    with pytest.raises(PlacementSearchError) as err:
        cli.check_flags(cli._parser().parse_args(argv))
    assert str(err.value) == message


def test_argparse_errors_are_one_line(capsys):
    assert cli.main(["run", "c.yaml", "--num-samples", "many"]) == 2
    err = capsys.readouterr().err
    assert err == ("error: argument --num-samples: invalid int value: 'many'; "
                   "see `placement-search run --help`\n")


def test_help_still_exits_0(capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main(["run", "--help"])
    assert exit_.value.code == 0 and "--max-concurrent" in capsys.readouterr().out
