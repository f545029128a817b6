"""Command-line options that do not apply to the mode asked for are refused, not ignored."""

from __future__ import annotations

import argparse
from collections.abc import Callable


def given_options(build_parser: Callable[[], argparse.ArgumentParser], argv: list[str] | None,
                  args: argparse.Namespace) -> set[str]:
    """The options named on the command line, whatever their values (a default given explicitly counts)."""
    parser = build_parser()
    parser.set_defaults(**{name: None for name in vars(args)})  # no option parses to None once given
    return {name for name, value in vars(parser.parse_args(argv)).items() if value is not None}


def refuse(parser: argparse.ArgumentParser, given: set[str], names, mode: str, why: str) -> None:
    """A parser error (exit 2) naming every option of `names` that was given with `mode`."""
    flags = [f"--{name}" for name in names if name in given]
    if flags:
        parser.error(f"{', '.join(flags)} {'does' if len(flags) == 1 else 'do'} not combine with {mode}: {why}")
