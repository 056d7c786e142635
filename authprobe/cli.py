"""The ``authprobe`` command: set-up and housekeeping around the pytest scenarios."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__
from .errors import AuthprobeError

COMMANDS = ("bootstrap", "build-image", "clusters", "diff", "merge", "profile", "rows", "seen")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="authprobe",
        description="Set-up and housekeeping around authprobe's pytest scenarios (run those "
                    "with `pytest --pyargs authprobe.scenarios` or `tox -e scenarios`).")
    parser.add_argument("--version", action="version", version=f"authprobe {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f".commands.{name.replace('-', '_')}", __package__)
        command = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return int(args._run(args) or 0)
    except AuthprobeError as err:
        print(f"authprobe: error: {err.one_line()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("authprobe: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the output went to a pager or `head` that stopped reading
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
