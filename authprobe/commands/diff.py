"""``authprobe diff OLD NEW``: the changed cells of two runs, classed (see report.diff).

``authprobe diff --adjacent REPORT``: within one run over several minors (the sweep), each
minor against the next one, so every change between adjacent minors is listed and classed.

``authprobe diff --upgrade REPORT``: within one run of ``--upgrade-to``, the cells of each
cluster before its upgrade in place against those of the same cluster after it, classed by
the rows of both minors like any other pair; and, for each cluster, what ``kubeadm upgrade
diff`` said before the upgrade (how many lines it changes, the hand edits it drops). Between
two runs (``authprobe diff OLD NEW``) the kubeadm diff is compared as an observation of
``profile_kept_after_upgrade``.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from ..errors import AuthprobeError
from ..model.expectations import load_files
from ..model.versions import KubeVersion
from ..paths import scenarios_dir
from ..report.by_version import of_version
from ..report.diff import compare, failed, render
from ..report.document import Outcomes, load
from ..report.upgrades import summary_lines

HELP = "compare two report folders and list every changed cell, classed"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", metavar="REPORT",
                        help="OLD and NEW: report folders of the earlier and the later run "
                             "(or their outcomes.json), e.g. reports/latest as NEW; with "
                             "--adjacent, one report")
    parser.add_argument("--adjacent", action="store_true",
                        help="compare each Kubernetes version of one report with the next")
    parser.add_argument("--upgrade", action="store_true",
                        help="compare the cells of one report of --upgrade-to before and after "
                             "the upgrade of their clusters")
    parser.add_argument("--rows", action="append", metavar="FILE", default=None,
                        help="judge the changes by the rows of these expectation files (and "
                             "the shipped ones) instead of the rows the runs recorded, e.g. "
                             "after editing rows; repeatable")
    parser.add_argument("--fail-on-switch", action="store_true",
                        help="exit 1 also when a cell took another of its row's alternative "
                             "outcomes (e.g. the liveness probe kills where the startup probe "
                             "killed): a switch the rows allow, listed either way")
    parser.epilog = ("exit status: 0 no regression, 1 at least one regression (a change no "
                     "row predicts, a failing, skipped, still failing or removed cell; with "
                     "--fail-on-switch, a switch of alternatives), 2 bad input")


def upgrade_sides(outcomes: Outcomes) -> list[tuple[Outcomes, Outcomes]]:
    """(before, after) of each upgrade of a report of --upgrade-to: the cells of the first
    minor, and those of the same clusters once upgraded."""
    run_id = outcomes.run.get("id", "?")
    pairs = []
    for version in sorted({c.upgraded_from for c in outcomes.cells if c.upgraded_from}):
        after = [c for c in outcomes.cells if c.upgraded_from == version]
        before = [c for c in outcomes.cells if c.version == version and not c.upgraded_from]
        pairs.append((
            replace(outcomes, cells=before, data=dict(
                outcomes.data, run={**outcomes.run, "id": f"{run_id} {version}"})),
            replace(outcomes, cells=after, data=dict(outcomes.data, run={
                **outcomes.run, "id": f"{run_id} {after[0].version} (upgraded from "
                                      f"{version})"}))))
    return pairs


def with_rows(outcomes: Outcomes, files: list[str]) -> Outcomes:
    """The run with each cell's row looked up again in the shipped and the given files (a
    cell whose profile does not apply keeps its n/a)."""
    table = load_files([scenarios_dir() / "expectations.yaml",
                        *(Path(f) for f in files if Path(f).resolve() != (
                            scenarios_dir() / "expectations.yaml").resolve())])
    cells = []
    for cell in outcomes.cells:
        if cell.expected.get("from") == "profile":
            cells.append(cell)
            continue
        try:
            row = table.lookup(cell.profile, cell.scenario, KubeVersion.parse(cell.version))
        except AuthprobeError as err:
            raise AuthprobeError(f"--rows: {err.one_line()}") from None
        # the alternative the cell took is read again from the new row
        cells.append(replace(cell, expected=row.to_dict(), alternative=None))
    return replace(outcomes, cells=cells)


def run(args: argparse.Namespace) -> int:
    if args.upgrade:
        if len(args.reports) != 1 or args.adjacent:
            raise AuthprobeError("authprobe diff --upgrade takes one report folder, of a run "
                                 "with --upgrade-to")
        pairs = upgrade_sides(load(args.reports[0]))
        if not pairs:
            raise AuthprobeError(f"{args.reports[0]} holds no upgraded cells: --upgrade needs "
                                 "the report of a run with --upgrade-to")
    elif args.adjacent:
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
                             "with --adjacent or --upgrade)")
    if args.rows:
        pairs = [(with_rows(old, args.rows), with_rows(new, args.rows)) for old, new in pairs]
    regression = False
    for number, (old, new) in enumerate(pairs):
        changes, versions, compared = compare(old, new)
        print(("\n" if number else "") + render(old, new, changes, versions, compared,
                                                 args.fail_on_switch), end="")
        lines = summary_lines(new.data, new.cells[0].upgraded_from or "") if args.upgrade else []
        if lines:
            print("\n" + "\n".join(lines))
        regression = regression or failed(changes, args.fail_on_switch)
    return 1 if regression else 0
