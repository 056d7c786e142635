"""``authprobe rows record REPORT --into FILE`` and ``authprobe rows accept REPORT --into
FILE``: a team's expectation rows recorded from a run of the version it runs, and the
changes a later run found accepted as rows of the later minor (:mod:`authprobe.team.recorded`).

The rows are the team's profiles' (those the report holds that authprobe does not ship, or
``--profile``). Every cell is named with what becomes of it. A row recorded before is
replaced only with ``--update``: without it, ``record`` lists each difference, writes
nothing and exits 1. Bad input (a report, a rows file edited into an invalid state) is one
line, exit 2, and nothing written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import AuthprobeError
from ..paths import clusters_dir
from ..report.document import load
from ..team import recorded

HELP = "record a team's expectation rows from a run, or accept a later run's changes as rows"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, text in (
            ("record", "write a row for every cell of the team's profiles that no row judged "
                       "(with --update, record a minor's rows again)"),
            ("accept", "add a row for the report's minor to every cell a row recorded on an "
                       "earlier minor did not predict")):
        action = actions.add_parser(name, help=text, description=text)
        action.add_argument("report", metavar="REPORT",
                            help="a report folder (or its outcomes.json)")
        action.add_argument("--into", type=Path, required=True, metavar="FILE",
                            help="the team's file of recorded rows (made if absent), given to "
                                 "runs as an expectation file")
        action.add_argument("--profile", action="append", default=None, metavar="ID",
                            help="the profiles to record (repeatable or a comma list; default: "
                                 "every profile of the report that authprobe does not ship)")
        if name == "record":
            action.add_argument("--update", action="store_true",
                                help="replace the rows of a minor recorded before with what "
                                     "this run saw")


def _profiles(args: argparse.Namespace, in_report: set[str]) -> set[str]:
    named = {p.strip() for v in args.profile or () for p in v.split(",") if p.strip()}
    if named:
        unknown = sorted(named - in_report)
        if unknown:
            raise AuthprobeError(f"profile '{unknown[0]}' has no cell in the report: pick from "
                                 f"{', '.join(sorted(in_report))}")
        return named
    shipped = {p.stem for p in (clusters_dir() / "profiles").glob("*.yaml")}
    team = in_report - shipped
    if not team:
        raise AuthprobeError("the report holds only profiles authprobe ships: name the ones "
                             "to record with --profile")
    return team


def run(args: argparse.Namespace) -> int:
    outcomes = load(args.report)
    profiles = _profiles(args, {c.profile for c in outcomes.cells})
    rows = recorded.RowFile.read(args.into, outcomes.declarations)
    if args.action == "record":
        entries = recorded.record(outcomes, rows, profiles, update=args.update)
    else:
        entries = recorded.accept(outcomes, rows, profiles)
    for entry in entries:
        if entry.kind != "same":
            print(entry.line())
    changed = [e for e in entries if e.kind == "changed"]
    if changed:
        print(f"{args.into}: nothing written: {len(changed)} rows recorded before differ from "
              "what this run saw (CHANGED above); pass --update to record them again")
        return 1
    written = recorded.apply(rows, entries)
    if written:
        rows.write()
    same = sum(1 for e in entries if e.kind == "same")
    print(f"{args.into}: {written} rows written"
          + (f", {same} cells already as recorded" if same else "")
          + f"; runs read it given as an expectation file (--expectations {args.into})")
    return 0
