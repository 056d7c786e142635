"""``authprobe merge --output DIR REPORT...``: one report from several runs.

CI runs one job per Kubernetes version; merging their report folders gives the whole
matrix (every version a column) with every file a single run writes. When two inputs hold
the same cell, the later input on the command line wins. Exported logs are copied along.
"""

from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path

from ..errors import AuthprobeError
from ..model.summary import one_line
from .document import Outcomes, assemble, log_entries
from .folder import run_id


def merge(inputs: list[Outcomes], output: Path) -> dict:
    cells: dict[tuple, dict] = {}
    tests, phases, probe_results, problems = [], [], [], []
    clusters: dict[str, dict] = {}
    series: dict[str, dict] = {}
    declared: dict[str, dict] = {}
    sources, started, finished, exit_status = [], [], [], 0
    for item in inputs:
        data, run = item.data, item.run
        sources.append(run.get("id") or str(item.path.parent))
        for cell in data.get("cells", []):
            cells[(cell["profile"], cell["scenario"], str(cell["version"]))] = cell
        tests.extend(data.get("tests", []))
        phases.extend(data.get("phases", []))
        probe_results.extend(data.get("probe_results", []))
        problems.extend(p for p in run.get("problems", []) if p not in problems)
        declared.update({k: v for k, v in (data.get("observations") or {}).items()
                         if k not in declared})
        clusters.update({c["name"]: c for c in data.get("clusters", [])})
        series.update({s["cluster"]: s for s in data.get("restart_series", [])})
        started += [run["started"]] if run.get("started") else []
        finished += [run["finished"]] if run.get("finished") else []
        exit_status = max(exit_status, int(run.get("exit_status") or 0))
        logs = item.path.parent / "logs"
        if logs.is_dir():
            try:
                shutil.copytree(logs, output / "logs", dirs_exist_ok=True)
            except (OSError, shutil.Error) as err:
                raise AuthprobeError(f"cannot copy the logs of {item.path.parent} into "
                                     f"{output}: {one_line(str(err), 160)}") from None
    first = min(started) if started else _dt.datetime.now(_dt.timezone.utc).isoformat()
    minors = sorted({c["minor"] for c in cells.values()})
    run = {"id": "merged-" + run_id(_dt.datetime.fromisoformat(first), minors),
           "started": first, "finished": max(finished) if finished else first,
           "exit_status": exit_status, "merged_from": sources}
    return assemble(run, list(cells.values()), tests, phases, list(clusters.values()),
                    list(series.values()), probe_results, log_entries(output), problems,
                    declared or None)

