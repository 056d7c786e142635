"""``authprobe merge --output DIR REPORT...``: one report from several runs.

CI runs one job per Kubernetes version; merging their report folders gives the whole
matrix (every version a column) with every file a single run writes. A profile on a
Kubernetes version is one cluster, and the unit a later input replaces: when two inputs
hold the same profile on the same version, the later input on the command line wins as a
whole (its cells, phases, cluster, restart series, probe results and logs), so a job run
again after a sweep takes the place of that job's part of the sweep. Exported logs are
copied along.
"""

from __future__ import annotations

import datetime as _dt
import shutil
from pathlib import Path

from ..errors import AuthprobeError
from ..model.summary import one_line
from .document import Outcomes, assemble, log_entries
from .folder import run_id

FAILED = ("fail", "error")


def _unit(record: dict) -> tuple[str, str]:
    """The cluster a record belongs to: its profile on its Kubernetes version."""
    return (str(record.get("profile")), str(record.get("version")))


def merge(inputs: list[Outcomes], output: Path) -> dict:
    kinds = ("cells", "phases", "clusters", "restart_series", "probe_results")
    parts: list[dict[str, list[dict]]] = []
    tests: dict[str, dict] = {}
    problems: list[str] = []
    declared: dict[str, dict] = {}
    sources, started, finished = [], [], []
    for item in inputs:
        data, run = item.data, item.run
        units = {_unit(c) for c in data.get("cells", [])}
        for earlier in parts:
            for kind in kinds:
                earlier[kind] = [r for r in earlier[kind] if _unit(r) not in units]
        parts.append({kind: list(data.get(kind) or []) for kind in kinds}
                     | {"exit_status": int(run.get("exit_status") or 0),
                        "held": len(data.get("cells", []))})
        sources.append(run.get("id") or str(item.path.parent))
        tests.update({t["nodeid"]: t for t in data.get("tests", [])})
        problems.extend(p for p in run.get("problems", []) if p not in problems)
        declared.update({k: v for k, v in (data.get("observations") or {}).items()
                         if k not in declared})
        started += [run["started"]] if run.get("started") else []
        finished += [run["finished"]] if run.get("finished") else []
        logs = item.path.parent / "logs"
        if logs.is_dir():
            try:
                shutil.copytree(logs, output / "logs", dirs_exist_ok=True)
            except (OSError, shutil.Error) as err:
                raise AuthprobeError(f"cannot copy the logs of {item.path.parent} into "
                                     f"{output}: {one_line(str(err), 160)}") from None
    kept = {kind: [r for part in parts for r in part[kind]] for kind in kinds}
    _drop_replaced_logs(output, {c["name"] for c in kept["clusters"]},
                        {c["name"] for item in inputs for c in item.data.get("clusters", [])})
    first = min(started) if started else _dt.datetime.now(_dt.timezone.utc).isoformat()
    cells = kept["cells"]
    minors = sorted({c["minor"] for c in cells})
    run = {"id": "merged-" + run_id(_dt.datetime.fromisoformat(first), minors),
           "started": first, "finished": max(finished) if finished else first,
           "exit_status": max((_exit_status(part) for part in parts), default=0),
           "merged_from": sources}
    return assemble(run, cells, list(tests.values()), kept["phases"], kept["clusters"],
                    kept["restart_series"], kept["probe_results"], log_entries(output),
                    problems, declared or None)


def _exit_status(part: dict) -> int:
    """An input's exit status, as far as what is kept of it can say: an input with some of
    its cells replaced fails only if a kept cell failed."""
    if len(part["cells"]) == part["held"]:
        return part["exit_status"]
    return 1 if any(c.get("outcome") in FAILED for c in part["cells"]) else 0


def _drop_replaced_logs(output: Path, kept: set[str], every: set[str]) -> None:
    for name in sorted(every - kept):
        folder = output / "logs" / name
        if folder.is_dir():
            shutil.rmtree(folder)
