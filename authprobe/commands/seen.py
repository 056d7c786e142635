"""``authprobe seen REPORT...``: which expectation rows live runs confirmed, on which patch.

For every (scenario, profile, row) whose cells passed (or failed as predicted) in the given
reports, prints the patches they ran on, in the form of the rows' ``seen`` field, so the
expectation file can record what was seen live. Rows that a report contradicts are listed
too, with the cell's message: those need understanding, not a new ``seen``.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from ..model.outcome import EXPECTED_FAILURE, FAIL, PASS
from ..model.versions import version_key
from ..report.document import load

HELP = "list the expectation rows the given reports confirmed, with the patches they ran on"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", metavar="REPORT",
                        help="report folders (or outcomes.json files)")


def run(args: argparse.Namespace) -> int:
    confirmed: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    contradicted: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for where in args.reports:
        for cell in load(where).cells:
            since = str(cell.expected.get("since", "?"))
            key = (cell.scenario, cell.profile, since)
            if cell.outcome in (PASS, EXPECTED_FAILURE):
                confirmed[key].add(cell.version)
            elif cell.outcome == FAIL:
                contradicted[key].append(f"{cell.version}: {cell.message}")
    for key in sorted(confirmed):
        scenario, profile, since = key
        patches = ", ".join(f'"{v}"' for v in sorted(confirmed[key], key=version_key))
        print(f"{scenario}.{profile} since {since}: seen: [{patches}]")
    for key in sorted(contradicted):
        scenario, profile, since = key
        for line in contradicted[key]:
            print(f"CONTRADICTED {scenario}.{profile} since {since}: {line}")
    return 1 if contradicted else 0
