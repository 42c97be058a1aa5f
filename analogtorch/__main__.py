"""Command line: ``python -m analogtorch <command>``.

Commands:
  compare  train a network digitally and on simulated analog hardware (Fashion-MNIST), compare
           test accuracy per epoch and after programming into PCM, over time.
  demo     program a weight matrix into PCM and show its drift and read noise over a year.
  sweep    the device requirements for equivalent accuracy: ambrogio2018 over a one-at-a-time grid
           of device parameters, each point's test-accuracy gap to digital (resumable).

Every option is checked before the command's work starts. From the command line a refused option is
one line on standard error and exit status 2 (as argparse does for the options it checks itself);
``run(argv)`` raises the error instead, for callers in Python.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["build_parser", "main", "run"]


def build_parser() -> argparse.ArgumentParser:
    """The parser of every command; each sets ``prepare`` (checks, raises) and ``execute``."""
    from .apps import compare, demo, sweep

    parser = argparse.ArgumentParser(prog="python -m analogtorch", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    compare_parser = commands.add_parser(
        "compare", help="analog vs digital training on Fashion-MNIST", formatter_class=compare.HelpFormatter,
        description=compare.__doc__.split("\n\n")[0],
    )  # fmt: skip
    compare.add_arguments(compare_parser)
    compare_parser.set_defaults(prepare=compare.prepare, execute=compare.run)
    demo_parser = commands.add_parser(
        "demo", help="PCM drift and read noise on a programmed weight matrix",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter, description=demo.__doc__,
    )  # fmt: skip
    demo.add_arguments(demo_parser)
    demo_parser.set_defaults(prepare=demo.validate, execute=demo.demo)
    sweep_parser = commands.add_parser(
        "sweep", help="device requirements: accuracy gap to digital over a grid of device parameters",
        formatter_class=compare.HelpFormatter, description=sweep.__doc__.split("\n\n")[0],
    )  # fmt: skip
    sweep.add_arguments(sweep_parser)
    sweep_parser.set_defaults(prepare=sweep.prepare, execute=sweep.run)
    return parser


def run(argv: list[str] | None = None) -> int:
    """Parses ``argv`` and runs the command; a refused option raises (``ValueError``, ``TypeError``
    or ``OSError`` naming the option)."""
    args = build_parser().parse_args(argv)
    args.execute(args.prepare(args))
    return 0


def main(argv: list[str] | None = None) -> int:
    """The command line: a refused option is one line on standard error and exit status 2, before
    any work starts."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        prepared: Any = args.prepare(args)
    except (ValueError, TypeError, OSError) as error:
        message = " ".join(str(error).split())  # one line, whatever the error's text holds
        print(f"{parser.prog} {args.command}: error: {message}", file=sys.stderr)
        return 2
    args.execute(prepared)
    return 0


if __name__ == "__main__":
    sys.exit(main())
