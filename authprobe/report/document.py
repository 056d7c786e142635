"""``outcomes.json``: the run log as one JSON document, and reading it back.

Every report format (JUnit, matrix, CSV, plot, diff, merge) is rendered from this document
alone, so a recorded ``outcomes.json`` renders the same reports again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from ..errors import AuthprobeError
from ..model import observations as _observations
from ..model.outcome import OUTCOMES, CellRecord, RunLog
from ..model.series import Sample, shape, summary
from ..model.summary import one_line
from ..model.versions import version_key
from .scrub import scrub

SCHEMA = "authprobe-outcomes/2"
# The schema of authprobe 0.1, read so that a report of before an upgrade of authprobe can
# still be compared with one of after it.
SCHEMA_1 = "authprobe-outcomes/1"
FILENAME = "outcomes.json"
DETAIL_LINES = 40


def add_test_report(tests: dict[str, dict], report: pytest.TestReport) -> None:
    """Fold one phase of a pytest test into its JUnit entry."""
    entry = tests.setdefault(report.nodeid, {"nodeid": report.nodeid, "outcome": "passed",
                                             "message": "", "duration": 0.0, "detail": ""})
    entry["duration"] = round(entry["duration"] + float(report.duration or 0.0), 3)
    if report.passed:
        return
    crash = getattr(report.longrepr, "reprcrash", None)
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(
            report.longrepr)
        entry.update(outcome="skipped", message=one_line(reason, 500))
        return
    entry.update(outcome="failed" if report.when == "call" else "error",
                 message=one_line(crash.message if crash else report.longreprtext, 500),
                 detail="\n".join(report.longreprtext.splitlines()[-DETAIL_LINES:]))


def _series(runlog: RunLog, snapshot: dict) -> list[dict]:
    entries = []
    for cluster, samples in sorted(snapshot["series"].items()):
        info = runlog.clusters.get(cluster)
        parsed = [Sample.from_dict(s) for s in samples]
        entries.append({
            "cluster": cluster,
            "profile": info.profile if info else None,
            "version": info.version if info else None,
            "shape": shape(parsed) if parsed else None,
            "summary": summary(parsed),
            "samples": samples,
            "probe_failures": snapshot["probe_failures"].get(cluster, []),
        })
    return entries


def log_entries(run_dir: Path) -> list[dict]:
    """Files under ``<run_dir>/logs/<cluster>/``, relative to the run folder."""
    root = run_dir / "logs"
    if not root.is_dir():
        return []
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(run_dir)
        entries.append({"cluster": rel.parts[1] if len(rel.parts) > 2 else "",
                        "path": rel.as_posix(), "bytes": path.stat().st_size})
    return entries


def _relative(path: str | None, run_dir: Path) -> str | None:
    if not path:
        return path
    try:
        return Path(path).resolve().relative_to(run_dir.resolve()).as_posix()
    except ValueError:
        return path


def build(run: dict, runlog: RunLog, tests: list[dict], run_dir: Path) -> dict:
    """The outcomes document of a run, scrubbed of credentials."""
    snapshot = runlog.snapshot()
    scenario_ids = {c["nodeid"] for c in snapshot["cells"] if c["nodeid"]}
    for phase in snapshot["phases"]:
        phase["logs_dir"] = _relative(phase["logs_dir"], run_dir)
    for cluster in snapshot["clusters"]:
        cluster["logs_dir"] = _relative(cluster["logs_dir"], run_dir)
    probe_results = []
    for name, rows in sorted(snapshot["probe_results"].items()):
        info = runlog.clusters.get(name)
        for row in rows:
            probe_results.append({"cluster": name, "profile": info.profile if info else None,
                                  "version": info.version if info else None, **row})
    return assemble(run, snapshot["cells"], [t for t in tests if t["nodeid"] not in scenario_ids],
                    snapshot["phases"], snapshot["clusters"], _series(runlog, snapshot),
                    probe_results, log_entries(run_dir), snapshot["problems"],
                    snapshot["observations"] or _observations.shipped().to_dict())


def assemble(run: dict, cells: list[dict], tests: list[dict], phases: list[dict],
             clusters: list[dict], series: list[dict], probe_results: list[dict],
             logs: list[dict], problems: list[str],
             observations: dict[str, dict] | None = None) -> dict:
    """The document, with the run facts derived from its parts; ``observations``: the
    declarations of the observed fields the run used (None: not known, as in a merge of
    runs that did not record them)."""
    records = [CellRecord.from_dict(c) for c in cells]
    versions = sorted({c.version for c in records}, key=version_key)
    node_images = {c["version"]: c["node_image"] for c in clusters
                   if c.get("node_image") and not c.get("upgraded_from")}
    sources = {c["version"]: c["image_source"] for c in clusters
               if c.get("image_source") and not c.get("upgraded_from")}
    kind_versions = sorted({c["kind_version"] for c in clusters if c.get("kind_version")})
    counts = {name: sum(1 for c in records if c.outcome == name) for name in OUTCOMES}
    # An upgrade in place: the version upgraded from -> the version its cells ran on after.
    upgrades = sorted({f"{c.upgraded_from} -> {c.version}" for c in records if c.upgraded_from})
    return scrub({
        "schema": SCHEMA,
        "run": {**run, "versions": versions, "kind_versions": kind_versions,
                "node_images": node_images, "image_sources": sources, "counts": counts,
                "problems": list(problems), **({"upgrades": upgrades} if upgrades else {})},
        "cells": [c.to_dict() for c in records],
        "tests": tests,
        "phases": phases,
        "clusters": clusters,
        "restart_series": series,
        "probe_results": probe_results,
        "logs": logs,
        **({"observations": observations} if observations else {}),
    })


def write(document: dict, run_dir: Path) -> Path:
    path = run_dir / FILENAME
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path


def from_schema_1(data: dict) -> dict:
    """A schema-1 document as schema 2: its cells and restart series (its other parts are
    not read by the diff)."""
    cells = []
    for cell in data.get("cells", []):
        version = str(cell.get("version", ""))
        cells.append({**{k: v for k, v in cell.items() if k in CellRecord.__dataclass_fields__},
                      "minor": ".".join(version.split(".")[:2]), "version": version})
    return {**data, "schema": SCHEMA, "cells": cells,
            "restart_series": data.get("restart_series", [])}


@dataclass
class Outcomes:
    """A loaded outcomes file."""

    path: Path
    data: dict
    cells: list[CellRecord]

    @property
    def run(self) -> dict:
        return self.data.get("run", {})

    @property
    def versions(self) -> list[str]:
        return sorted({c.version for c in self.cells}, key=version_key)

    @property
    def declarations(self) -> _observations.Declarations:
        """The observed fields as the run declared them (the shipped ones, and a team's)."""
        return _observations.from_document(self.data.get("observations"))

    @property
    def recorded(self) -> set[str]:
        """The observed fields this run could record: those it declared, or, in a file of an
        authprobe that did not record its declarations, those some cell of it recorded."""
        declared = self.data.get("observations")
        if declared:
            return set(declared)
        return {name for cell in self.data.get("cells", []) for name in
                (cell.get("observed") or {})}

    def series(self) -> list[tuple[dict, list[Sample]]]:
        return [(entry, [Sample.from_dict(s) for s in entry.get("samples", [])])
                for entry in self.data.get("restart_series", [])]


def load(where: str | Path) -> Outcomes:
    """A report folder (or ``reports/latest``) or an outcomes file, read and checked."""
    path = Path(where)
    if path.is_dir():
        path = path / FILENAME
    if not path.exists():
        if not Path(where).exists():
            raise AuthprobeError(f"{where}: no such report folder; pass a folder under reports/ "
                                 "or reports/latest")
        raise AuthprobeError(f"{where}: no {FILENAME} in it; is it a report folder written by "
                             "an authprobe run?")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise AuthprobeError(f"{path}: not a readable outcomes file ({one_line(str(err), 80)})"
                             ) from None
    if isinstance(data, dict) and data.get("schema") == SCHEMA_1:
        data = from_schema_1(data)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else None
        raise AuthprobeError(f"{path}: an outcomes file of schema {found or 'unknown'}, not "
                             f"{SCHEMA}: run the scenarios again with this authprobe")
    cells = []
    for index, item in enumerate(data.get("cells", [])):
        try:
            cells.append(CellRecord.from_dict(item))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise AuthprobeError(f"{path}: cell {index} is malformed ({err})") from None
    outcomes = Outcomes(path, data, cells)
    try:
        outcomes.series()
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise AuthprobeError(f"{path}: restart series malformed ({err})") from None
    return outcomes
