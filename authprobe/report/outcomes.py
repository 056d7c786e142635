"""The outcome model: one cell per (profile, scenario, Kubernetes version), built from
pytest reports, written to and read back from ``outcomes.json``.

Every report format (JUnit, matrix, CSV, plot, diff) is rendered from this data alone,
so a recorded ``outcomes.json`` renders the same reports again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import AuthprobeError
from ..series import Sample, shape, summary
from .scrub import REDACTED, is_secret_key, scrub

SCHEMA = "authprobe-outcomes/1"
FILENAME = "outcomes.json"

PASS = "pass"
FAIL = "fail"
EXPECTED_FAILURE = "expected-failure"
ERROR = "error"
NA = "n/a"
SKIPPED = "skipped"
OUTCOMES = (PASS, FAIL, EXPECTED_FAILURE, ERROR, NA, SKIPPED)
PASSING = (PASS, EXPECTED_FAILURE, NA)

# Observed fields that make up a cell's short message, in order.
_MESSAGE_FIELDS = ("status", "message", "status_after", "up", "comes_up", "exit_code",
                   "log_message", "log_tail", "restart_shape")
_DETAIL_LINES = 40
_MESSAGE_CHARS = 160
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)(?:\.(\d+))?$")


def version_key(text: str) -> tuple:
    """Sort key for version strings: numeric when they parse, text after the numeric ones."""
    match = _VERSION_RE.match(str(text))
    if not match:
        return (1, str(text))
    major, minor, patch = match.groups()
    return (0, int(major), int(minor), int(patch) if patch else -1)


def minor_of(text: str) -> str:
    match = _VERSION_RE.match(str(text))
    return f"{match.group(1)}.{match.group(2)}" if match else str(text)


def is_expected_failure(expected: dict) -> bool:
    """Whether the expectation is a failure that must happen (the story's failures)."""
    return expected.get("comes_up") is False or expected.get("restart_shape") in (
        "climbs",
        "never-up",
    )


def one_line(text: str, limit: int = _MESSAGE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _decode(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _decode_observed(value: Any) -> Any:
    """Observed values come as values, or as JSON text of an object, list or string."""
    if isinstance(value, str) and value[:1] in ("{", "[", '"'):
        return _decode(value)
    return value


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


@dataclass
class Cell:
    profile: str
    scenario: str
    version: str
    outcome: str
    message: str = ""
    observed: dict = field(default_factory=dict)
    expected: dict = field(default_factory=dict)
    node_image: str | None = None
    kind_version: str | None = None
    cluster: str | None = None
    duration: float = 0.0
    nodeid: str = ""
    restart_summary: str | None = None
    detail: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.profile, self.scenario, self.version)

    @property
    def anchor(self) -> str:
        raw = f"cell-{self.profile}-{self.scenario}-{self.version}"
        return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw)

    def to_dict(self) -> dict:
        return {
            "profile": self.profile,
            "scenario": self.scenario,
            "version": self.version,
            "outcome": self.outcome,
            "message": self.message,
            "observed": self.observed,
            "expected": self.expected,
            "node_image": self.node_image,
            "kind_version": self.kind_version,
            "cluster": self.cluster,
            "duration": round(self.duration, 3),
            "nodeid": self.nodeid,
            "restart_summary": self.restart_summary,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict) -> Cell:
        outcome = data["outcome"]
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}")
        return cls(
            profile=str(data["profile"]),
            scenario=str(data["scenario"]),
            version=str(data["version"]),
            outcome=outcome,
            message=str(data.get("message") or ""),
            observed=dict(data.get("observed") or {}),
            expected=dict(data.get("expected") or {}),
            node_image=data.get("node_image"),
            kind_version=data.get("kind_version"),
            cluster=data.get("cluster"),
            duration=float(data.get("duration") or 0.0),
            nodeid=str(data.get("nodeid") or ""),
            restart_summary=data.get("restart_summary"),
            detail=str(data.get("detail") or ""),
        )


@dataclass
class _Test:
    """What pytest reported for one test item, phase by phase."""

    nodeid: str
    location: tuple | None = None
    properties: list[tuple[str, Any]] = field(default_factory=list)
    phases: dict[str, str] = field(default_factory=dict)  # when -> passed/failed/skipped
    crash: dict[str, str] = field(default_factory=dict)  # when -> first line
    texts: dict[str, str] = field(default_factory=dict)  # when -> longrepr text
    assertion: dict[str, bool] = field(default_factory=dict)
    sections: list[tuple[str, str]] = field(default_factory=list)
    duration: float = 0.0
    durations: dict[str, float] = field(default_factory=dict)
    xfail: str | None = None
    fallback: dict[str, str] = field(default_factory=dict)

    def prop(self, name: str) -> Any:
        value = None
        for key, item in self.properties:
            if key == name:
                value = item
        return value


def _crash_line(report: Any) -> str:
    longrepr = report.longrepr
    if longrepr is None:
        return ""
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # skip: (path, line, reason)
        reason = str(longrepr[2])
        return reason[len("Skipped: "):] if reason.startswith("Skipped: ") else reason
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None and getattr(crash, "message", None):
        return str(crash.message)
    text = str(longrepr).strip().splitlines()
    return text[-1] if text else ""


def _is_assertion(report: Any, crash: str) -> bool:
    flag = getattr(report, "authprobe_assertion", None)
    if flag is not None:
        return bool(flag)
    return crash.startswith(("AssertionError", "assert ", "Failed:"))


def _tail(text: str, lines: int = _DETAIL_LINES) -> str:
    parts = text.rstrip().splitlines()
    return "\n".join(parts[-lines:])


class Collector:
    """Accumulates pytest reports for the run; ``tests()`` and ``cells()`` read them back."""

    def __init__(self) -> None:
        self._tests: dict[str, _Test] = {}

    def set_fallback(self, nodeid: str, **values: str) -> None:
        """Profile/scenario/version known from collection, used when a test sets no properties."""
        test = self._tests.setdefault(nodeid, _Test(nodeid))
        test.fallback.update({k: v for k, v in values.items() if v})

    def has_results(self) -> bool:
        return any(test.phases for test in self._tests.values())

    def add(self, report: Any) -> None:
        test = self._tests.setdefault(report.nodeid, _Test(report.nodeid))
        test.location = getattr(report, "location", None)
        props = list(getattr(report, "user_properties", []) or [])
        if len(props) >= len(test.properties):
            test.properties = props
        when = report.when
        test.phases[when] = report.outcome
        seconds = float(getattr(report, "duration", 0.0) or 0.0)
        test.duration += seconds
        test.durations[when] = seconds
        if hasattr(report, "wasxfail"):
            test.xfail = str(report.wasxfail or "xfail")
        if report.outcome in ("failed", "skipped"):
            crash = _crash_line(report)
            test.crash[when] = crash
            test.assertion[when] = _is_assertion(report, crash)
            if report.outcome == "failed":
                test.texts[when] = str(getattr(report, "longreprtext", "") or report.longrepr)
        for title, content in getattr(report, "sections", []) or []:
            if content.strip() and (title, content) not in test.sections:
                test.sections.append((title, content))

    # --- per-test outcomes -------------------------------------------------------------

    @staticmethod
    def _junit_outcome(test: _Test) -> tuple[str, str]:
        """(passed|failed|error|skipped, message) in pytest/JUnit terms."""
        phases = test.phases
        if phases.get("setup") == "failed":
            return "error", test.crash.get("setup", "")
        if "skipped" in (phases.get("setup"), phases.get("call")):
            return "skipped", test.crash.get("setup") or test.crash.get("call", "")
        if phases.get("call") == "failed":
            return "failed", test.crash.get("call", "")
        if phases.get("teardown") == "failed":
            return "error", "teardown: " + test.crash.get("teardown", "")
        return "passed", ""

    def _detail(self, test: _Test) -> str:
        parts = []
        for when in ("setup", "call", "teardown"):
            if when in test.texts:
                parts.append(f"--- {when} ---\n{_tail(test.texts[when])}")
        for title, content in test.sections:
            parts.append(f"--- {title} ---\n{_tail(content, 20)}")
        return "\n".join(parts)

    def tests(self) -> list[dict]:
        """Every test of the run, for JUnit."""
        out = []
        for test in self._tests.values():
            if not test.phases:
                continue
            outcome, message = self._junit_outcome(test)
            out.append({
                "nodeid": test.nodeid,
                "outcome": outcome,
                "message": one_line(message, 500),
                "duration": round(test.duration, 3),
                "properties": [[k, REDACTED if is_secret_key(k) else _jsonable(v)]
                               for k, v in test.properties],
                "detail": self._detail(test),
            })
        return out

    def cells(self) -> list[Cell]:
        cells = []
        for test in self._tests.values():
            cell = self._cell(test)
            if cell is not None:
                cells.append(cell)
        _align_versions(cells)
        return cells

    def _cell(self, test: _Test) -> Cell | None:
        if not test.phases:
            return None
        profile = test.prop("profile") or test.fallback.get("profile")
        scenario = test.prop("scenario") or test.fallback.get("scenario")
        version = test.prop("k8s_version") or test.fallback.get("version")
        if not (profile and scenario and version):
            return None
        expected = _decode(test.prop("expected")) or {}
        if not isinstance(expected, dict):
            expected = {"value": expected}
        observed: dict[str, Any] = {}
        whole = _decode(test.prop("observed"))
        if isinstance(whole, dict):
            observed.update(whole)
        for key, value in test.properties:
            if key.startswith("observed."):
                observed[key[len("observed."):]] = _jsonable(_decode_observed(value))
        outcome, message = classify(test, expected, observed)
        return Cell(
            profile=str(profile),
            scenario=str(scenario),
            version=str(version),
            outcome=outcome,
            message=one_line(message),
            observed=observed,
            expected=expected,
            node_image=test.prop("node_image"),
            kind_version=test.prop("kind_version"),
            cluster=test.prop("cluster"),
            duration=test.durations.get("call", 0.0),
            nodeid=test.nodeid,
            restart_summary=test.prop("restart_summary") or observed.get("restart_summary"),
            detail=self._detail(test),
        )


def _align_versions(cells: list[Cell]) -> None:
    """A cell known only by its minor (its test failed before recording the patch) joins
    the column of that minor's patch version when the run has exactly one."""
    patches: dict[str, set[str]] = {}
    for cell in cells:
        if minor_of(cell.version) != cell.version:
            patches.setdefault(minor_of(cell.version), set()).add(cell.version)
    for cell in cells:
        found = patches.get(cell.version, set())
        if len(found) == 1:
            cell.version = next(iter(found))


def observed_message(observed: dict) -> str:
    parts = []
    for name in _MESSAGE_FIELDS:
        if name in observed and observed[name] not in (None, ""):
            value = observed[name]
            if name in ("up", "comes_up"):
                value = "comes up" if value else "does not come up"
            elif name == "status_after":
                value = f"after binding {value}"
            elif name == "exit_code":
                value = f"exit {value}"
            elif name == "log_tail":
                lines = value if isinstance(value, list) else str(value).splitlines()
                if not lines:
                    continue
                value = f"({str(lines[-1]).strip()})"
            elif name == "restart_shape":
                value = f"restarts {value}"
            parts.append(value if isinstance(value, str) else json.dumps(value, sort_keys=True))
    return " ".join(parts)


def classify(test: _Test, expected: dict, observed: dict) -> tuple[str, str]:
    """The cell outcome and its short message."""
    phases = test.phases
    na_reason = expected.get("na")
    if phases.get("setup") == "failed":
        return ERROR, test.crash.get("setup", "setup failed")
    if "skipped" in (phases.get("setup"), phases.get("call")):
        reason = test.crash.get("setup") or test.crash.get("call", "")
        if na_reason or reason.lower().startswith("n/a"):
            return NA, str(na_reason or reason)
        return SKIPPED, reason
    if phases.get("call") == "failed":
        crash = test.crash.get("call", "")
        if test.xfail is not None:
            return EXPECTED_FAILURE, test.xfail
        if test.assertion.get("call", False):
            return FAIL, crash
        return ERROR, crash
    if phases.get("teardown") == "failed":
        return ERROR, "teardown: " + test.crash.get("teardown", "")
    if phases.get("call") == "passed":
        if na_reason:
            return NA, str(na_reason)
        if test.xfail is not None:
            return FAIL, f"passed but marked xfail: {test.xfail}"
        text = observed_message(observed)
        if is_expected_failure(expected):
            return EXPECTED_FAILURE, text or "failed as expected"
        return PASS, text
    return ERROR, "the test did not run to its end"


# --- the whole document -------------------------------------------------------------------


def series_entries(runlog: Any) -> list[dict]:
    """Restart series from the run log, with the profile and version of their cluster."""
    entries = []
    for cluster, samples in sorted(runlog.restart_series.items()):
        info = runlog.clusters.get(cluster)
        samples = list(samples)
        try:
            series_shape = shape(samples)
        except ValueError:
            series_shape = None
        entries.append({
            "cluster": cluster,
            "profile": getattr(info, "profile", None),
            "version": getattr(info, "version", None),
            "shape": series_shape,
            "summary": summary(samples),
            "samples": [s.to_dict() for s in samples],
        })
    return entries


def phase_entries(runlog: Any) -> list[dict]:
    return [{**asdict(p), "seconds": round(float(p.seconds), 3)} for p in runlog.phases]


def cluster_entries(runlog: Any) -> list[dict]:
    return [asdict(c) for c in runlog.clusters.values()]


def log_entries(run_dir: Path) -> list[dict]:
    """Files exported under ``<run_dir>/logs/<cluster>/``, relative to the run folder."""
    root = run_dir / "logs"
    if not root.is_dir():
        return []
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(run_dir)
        entries.append({
            "cluster": rel.parts[1] if len(rel.parts) > 2 else "",
            "path": rel.as_posix(),
            "bytes": path.stat().st_size,
        })
    return entries


def fill_from_clusters(cells: Iterable[Cell], clusters: list[dict]) -> None:
    """Node image and kind version from the run log when a test did not record them."""
    by_name = {c["name"]: c for c in clusters}
    by_profile_version = {(c["profile"], c["version"]): c for c in clusters}
    for cell in cells:
        info = by_name.get(cell.cluster or "") or by_profile_version.get(
            (cell.profile, cell.version)
        )
        if info is None:
            continue
        cell.cluster = cell.cluster or info["name"]
        cell.node_image = cell.node_image or info.get("node_image")
        cell.kind_version = cell.kind_version or info.get("kind_version")


def build(run: dict, cells: list[Cell], tests: list[dict], runlog: Any,
          run_dir: Path | None) -> dict:
    """The outcomes document of a run, from its pytest results and its run log."""
    phases = phase_entries(runlog)
    if run_dir is not None:
        for phase in phases:
            phase["logs_dir"] = _relative(phase["logs_dir"], run_dir)
    return assemble(run, [c.to_dict() for c in cells], tests, phases,
                    cluster_entries(runlog), series_entries(runlog),
                    log_entries(run_dir) if run_dir else [])


def _relative(path: str | None, run_dir: Path) -> str | None:
    """A path inside the run folder, relative to it (reports move as a folder)."""
    if not path:
        return path
    try:
        return Path(path).resolve().relative_to(run_dir.resolve()).as_posix()
    except ValueError:
        return path


def assemble(run: dict, cells: list[dict], tests: list[dict], phases: list[dict],
             clusters: list[dict], series: list[dict], logs: list[dict]) -> dict:
    """The outcomes document, with run facts derived from its parts, scrubbed of credentials."""
    loaded = [Cell.from_dict(c) for c in cells]
    fill_from_clusters(loaded, clusters)
    summaries = {entry["cluster"]: entry.get("summary") for entry in series}
    for cell in loaded:
        cell.restart_summary = cell.restart_summary or summaries.get(cell.cluster or "")
    versions = sorted({c.version for c in loaded}, key=version_key)
    node_images: dict[str, str] = {}
    for item in [*clusters, *(c.to_dict() for c in loaded)]:
        if item.get("node_image") and item.get("version"):
            node_images.setdefault(str(item["version"]), item["node_image"])
    kind_versions = sorted({str(v) for v in
                            [*(c.get("kind_version") for c in clusters),
                             *(c.kind_version for c in loaded)] if v})
    counts = {name: sum(1 for c in loaded if c.outcome == name) for name in OUTCOMES}
    document = {
        "schema": SCHEMA,
        "run": {
            **run,
            "versions": versions,
            "kind_versions": kind_versions,
            "node_images": node_images,
            "counts": counts,
        },
        "cells": [c.to_dict() for c in loaded],
        "tests": tests,
        "phases": phases,
        "clusters": clusters,
        "restart_series": series,
        "logs": logs,
    }
    return scrub(document)


def write(document: dict, run_dir: Path) -> Path:
    path = run_dir / FILENAME
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    return path


@dataclass
class Outcomes:
    """A loaded outcomes file."""

    path: Path
    data: dict
    cells: list[Cell]

    @property
    def run(self) -> dict:
        return self.data.get("run", {})

    @property
    def versions(self) -> list[str]:
        return sorted({c.version for c in self.cells}, key=version_key)

    def series(self) -> list[tuple[dict, list[Sample]]]:
        out = []
        for entry in self.data.get("restart_series", []):
            out.append((entry, [Sample.from_dict(s) for s in entry.get("samples", [])]))
        return out


def resolve_path(where: str | Path) -> Path:
    """A report folder (or ``reports/latest``) or an outcomes file, to the outcomes file."""
    path = Path(where)
    if path.is_dir():
        path = path / FILENAME
    return path


def load(where: str | Path) -> Outcomes:
    path = resolve_path(where)
    if not path.exists():
        folder = Path(where)
        if not folder.exists():
            raise AuthprobeError(f"{where}: no such report folder; pass a folder under reports/ "
                                 "or reports/latest")
        raise AuthprobeError(f"{where}: no {FILENAME} in it; is it a report folder written by "
                             "an authprobe run?")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise AuthprobeError(f"{path}: not a readable outcomes file ({one_line(str(err), 80)})"
                             ) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise AuthprobeError(f"{path}: not an outcomes file of schema {SCHEMA}")
    cells = []
    for index, item in enumerate(data.get("cells", [])):
        try:
            cells.append(Cell.from_dict(item))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise AuthprobeError(f"{path}: cell {index} is malformed ({err})") from None
    try:
        Outcomes(path, data, cells).series()
    except (KeyError, TypeError, ValueError, AttributeError) as err:
        raise AuthprobeError(f"{path}: restart series malformed ({err})") from None
    return Outcomes(path, data, cells)
