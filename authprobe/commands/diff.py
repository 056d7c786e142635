"""``authprobe diff OLD NEW``: the changed cells of two runs, classed (see report.diff)."""

from __future__ import annotations

import argparse

from ..report.diff import REGRESSION, compare, render
from ..report.document import load

HELP = "compare two report folders and list every changed cell, classed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("old", metavar="OLD",
                        help="report folder of the earlier run (or its outcomes.json)")
    parser.add_argument("new", metavar="NEW",
                        help="report folder of the later run, e.g. reports/latest")
    parser.epilog = ("exit status: 0 no regression, 1 at least one regression, 2 bad input")


def run(args: argparse.Namespace) -> int:
    old, new = load(args.old), load(args.new)
    changes, pairs, compared = compare(old, new)
    print(render(old, new, changes, pairs, compared), end="")
    return 1 if any(c.kind == REGRESSION for c in changes) else 0
