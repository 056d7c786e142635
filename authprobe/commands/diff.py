"""``authprobe diff OLD NEW``: the changed cells of two runs, classed (see report.diff).

``authprobe diff --adjacent REPORT``: within one run over several minors (the sweep), each
minor against the next one, so every change between adjacent minors is listed and classed.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from ..errors import AuthprobeError
from ..report.diff import REGRESSION, compare, render
from ..report.document import Outcomes, load

HELP = "compare two report folders and list every changed cell, classed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", metavar="REPORT",
                        help="OLD and NEW: report folders of the earlier and the later run "
                             "(or their outcomes.json), e.g. reports/latest as NEW; with "
                             "--adjacent, one report")
    parser.add_argument("--adjacent", action="store_true",
                        help="compare each Kubernetes version of one report with the next")
    parser.epilog = ("exit status: 0 no regression, 1 at least one regression, 2 bad input")


def of_version(outcomes: Outcomes, version: str) -> Outcomes:
    """The cells of one version of a run, as a run of its own."""
    data = dict(outcomes.data, run={**outcomes.run,
                                    "id": f"{outcomes.run.get('id', '?')} {version}"})
    return replace(outcomes, data=data,
                   cells=[c for c in outcomes.cells if c.version == version])


def run(args: argparse.Namespace) -> int:
    if args.adjacent:
        if len(args.reports) != 1:
            raise AuthprobeError("authprobe diff --adjacent takes one report folder (a run "
                                 "over several Kubernetes versions, such as the sweep's)")
        report = load(args.reports[0])
        versions = report.versions
        if len(versions) < 2:
            raise AuthprobeError(f"{args.reports[0]} holds one Kubernetes version "
                                 f"({', '.join(versions)}): --adjacent needs two or more")
        pairs = [(of_version(report, a), of_version(report, b))
                 for a, b in zip(versions, versions[1:], strict=False)]
    elif len(args.reports) == 2:
        pairs = [(load(args.reports[0]), load(args.reports[1]))]
    else:
        raise AuthprobeError("authprobe diff takes two report folders, OLD and NEW (or one "
                             "with --adjacent)")
    regression = False
    for number, (old, new) in enumerate(pairs):
        changes, versions, compared = compare(old, new)
        print(("\n" if number else "") + render(old, new, changes, versions, compared), end="")
        regression = regression or any(c.kind == REGRESSION for c in changes)
    return 1 if regression else 0
