"""The ``authprobe`` command: setup and housekeeping around the pytest scenarios.

Each subcommand lives in the module that does the work; this file only wires them up.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from .errors import AuthprobeError

# subcommand -> (module, help). The module provides add_arguments(parser) and run(args) -> int.
COMMANDS = {
    "bootstrap": ("authprobe.engine", "find or install and start a Docker engine, and build kind"),
    "build-image": ("authprobe.nodeimage.cli", "build a kind node image offline from Go modules"),
    "clusters": ("authprobe.housekeeping", "list or remove clusters left by earlier runs"),
    "diff": ("authprobe.report.diff", "compare two report folders and list changed cells"),
    "merge": ("authprobe.report.merge", "merge report folders of several runs into one report"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="authprobe", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=help_text, description=help_text)
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


if __name__ == "__main__":
    sys.exit(main())
