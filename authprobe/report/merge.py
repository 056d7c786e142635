"""``authprobe merge --output DIR REPORT...``: one report from several runs.

CI runs one job per Kubernetes version; merging their report folders gives the whole
matrix (all versions as columns) with every file a single run writes. When two inputs
hold the same cell, the later input on the command line wins. Exported logs are copied
along.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import shutil
from pathlib import Path

from ..errors import AuthprobeError
from . import run_id
from .outcomes import Outcomes, assemble, load, log_entries, one_line, version_key
from .writer import write_all


def merge(inputs: list[Outcomes], output: Path) -> dict:
    cells: dict[tuple, dict] = {}
    tests: list[dict] = []
    phases: list[dict] = []
    clusters: dict[str, dict] = {}
    series: dict[str, dict] = {}
    sources = []
    started, finished, exit_status = [], [], 0
    for item in inputs:
        data = item.data
        run = item.run
        sources.append(run.get("id") or str(item.path.parent))
        for cell in data.get("cells", []):
            cells[(cell["profile"], cell["scenario"], str(cell["version"]))] = cell
        tests.extend(data.get("tests", []))
        phases.extend(data.get("phases", []))
        clusters.update({c["name"]: c for c in data.get("clusters", [])})
        series.update({s["cluster"]: s for s in data.get("restart_series", [])})
        if run.get("started"):
            started.append(run["started"])
        if run.get("finished"):
            finished.append(run["finished"])
        exit_status = max(exit_status, int(run.get("exit_status") or 0))
        logs = item.path.parent / "logs"
        if logs.is_dir():
            try:
                shutil.copytree(logs, output / "logs", dirs_exist_ok=True)
            except (OSError, shutil.Error) as err:
                raise AuthprobeError(f"cannot copy the logs of {item.path.parent} into "
                                     f"{output}: {one_line(str(err), 160)}") from None
    first = min(started) if started else _dt.datetime.now(_dt.timezone.utc).isoformat()
    versions = sorted({key[2] for key in cells}, key=version_key)
    run = {
        "id": "merged-" + run_id(_dt.datetime.fromisoformat(first), versions),
        "started": first,
        "finished": max(finished) if finished else first,
        "exit_status": exit_status,
        "merged_from": sources,
    }
    return assemble(run, list(cells.values()), tests, phases, list(clusters.values()),
                    list(series.values()), log_entries(output))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", metavar="REPORT",
                        help="report folders (or outcomes.json files) to merge")
    parser.add_argument("--output", "-o", required=True, metavar="DIR",
                        help="folder to write the merged report into (created if missing)")


def run(args: argparse.Namespace) -> int:
    inputs = [load(where) for where in args.reports]
    output = Path(args.output)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise AuthprobeError(f"cannot create {output}: {err.strerror}") from None
    document = merge(inputs, output)
    write_all(document, output)
    print(f"merged {len(inputs)} report(s), {len(document['cells'])} cells, Kubernetes "
          f"{', '.join(document['run']['versions']) or 'none'}: {output / 'matrix.html'}")
    return 0
