"""``junit.xml``: the run in the JUnit XML that CI tools read.

Three suites: ``authprobe`` with one testcase per cell (profile x scenario x version),
``authprobe.cluster-lifecycle`` with one testcase per lifecycle phase of every cluster, and
``authprobe.tests`` with the pytest tests that are not scenarios. A failed cell is a
``<failure>``, an errored one an ``<error>``; skipped and n/a cells are ``<skipped>``, an
n/a one with a message starting ``n/a: `` so CI tools show the two apart.
"""

from __future__ import annotations

import json
import re
import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ..model.outcome import (
    ERROR,
    EXPECTED_FAILURE,
    FAIL,
    LABELS,
    NA,
    NOT_JUDGED,
    PASS,
    SKIPPED,
    CellRecord,
)

FILENAME = "junit.xml"
CELL_SUITE = "authprobe"
PHASE_SUITE = "authprobe.cluster-lifecycle"
TEST_SUITE = "authprobe.tests"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: Any) -> str:
    """Text safe inside XML 1.0: no terminal colour codes, no forbidden characters."""
    return _NOT_XML.sub("", _ANSI.sub("", "" if text is None else str(text)))


def split_nodeid(nodeid: str) -> tuple[str, str]:
    """(classname, name) the way pytest names them: dotted module path (and class), test name."""
    parts = nodeid.split("::")
    module = parts[0].removesuffix(".py").replace("/", ".").replace("\\", ".")
    if len(parts) == 1:
        return module, module
    return ".".join([module, *parts[1:-1]]), parts[-1]


def _add_properties(parent: ET.Element, properties: list[tuple[str, Any]]) -> None:
    if not properties:
        return
    node = ET.SubElement(parent, "properties")
    for name, value in properties:
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        ET.SubElement(node, "property", name=clean(name), value=clean(text))


def _case(classname: str, name: str, seconds: float) -> ET.Element:
    return ET.Element("testcase", classname=clean(classname), name=clean(name),
                      time=f"{float(seconds or 0.0):.3f}")


def _result(case: ET.Element, tag: str, message: str, body: str = "",
            kind: str | None = None) -> None:
    node = ET.SubElement(case, tag, message=clean(message), type=kind or tag)
    node.text = clean(body or message)


def _failure_body(cell: CellRecord) -> str:
    parts = [f"expected: {json.dumps(cell.expected, sort_keys=True)}",
             f"observed: {json.dumps(cell.observed, sort_keys=True)}"]
    return "\n".join([*parts, "", cell.detail] if cell.detail else parts)


def cell_case(cell: CellRecord) -> ET.Element:
    """The testcase of one cell."""
    case = _case(f"authprobe.{cell.profile}.k8s{cell.version}", cell.scenario, cell.duration)
    _add_properties(case, [("profile", cell.profile), ("k8s_version", cell.version),
                           ("scenario", cell.scenario), ("outcome", cell.outcome),
                           ("cluster", cell.cluster or ""), ("node_image", cell.node_image or ""),
                           ("image_source", cell.image_source or ""),
                           ("kind_version", cell.kind_version or "")])
    if cell.outcome == FAIL:
        _result(case, "failure", cell.message, _failure_body(cell))
    elif cell.outcome == ERROR:
        _result(case, "error", cell.message, cell.detail)
    elif cell.outcome == NA:
        message = cell.message if cell.message.startswith("n/a: ") else f"n/a: {cell.message}"
        _result(case, "skipped", message, kind="n/a")
    elif cell.outcome == SKIPPED:
        _result(case, "skipped", cell.message, kind="skipped")
    elif cell.outcome == NOT_JUDGED:
        _result(case, "skipped", cell.message, kind="not judged")
    elif cell.outcome in (PASS, EXPECTED_FAILURE):
        ET.SubElement(case, "system-out").text = clean(
            f"{LABELS[cell.outcome]}: {cell.message or LABELS[cell.outcome]}")
    return case


def phase_case(phase: dict, node_images: dict[str, str]) -> ET.Element:
    """The testcase of one lifecycle phase of one cluster."""
    case = _case(f"cluster-lifecycle.{phase['profile']}.k8s{phase['version']}", phase["phase"],
                 phase.get("seconds", 0.0))
    _add_properties(case, [
        ("cluster", phase["cluster"]), ("profile", phase["profile"]),
        ("k8s_version", phase["version"]),
        ("node_image", node_images.get(phase["cluster"], "")), ("phase", phase["phase"]),
        ("outcome", phase["outcome"]),
        *([("logs_dir", phase["logs_dir"])] if phase.get("logs_dir") else []),
    ])
    message = phase.get("message") or ""
    if phase["outcome"] == "failed":
        _result(case, "failure", message)
    elif phase["outcome"] == "skipped":
        _result(case, "skipped", message)
    elif message:
        label = "expected failure" if phase["outcome"] == "expected-failure" else phase["outcome"]
        ET.SubElement(case, "system-out").text = clean(f"{label}: {message}")
    return case


def other_test_case(test: dict) -> ET.Element:
    """The testcase of a pytest test that is not a scenario."""
    case = _case(*split_nodeid(test["nodeid"]), test.get("duration", 0.0))
    message, detail = test.get("message") or "", test.get("detail") or ""
    tag = {"failed": "failure", "error": "error", "skipped": "skipped"}.get(test["outcome"])
    if tag:
        _result(case, tag, message, detail)
    return case


def _suite(name: str, cases: list[ET.Element], timestamp: str, hostname: str,
           properties: list[tuple[str, Any]] | None = None) -> ET.Element:
    counts = {kind: sum(1 for case in cases if case.find(kind) is not None)
              for kind in ("failure", "error", "skipped")}
    suite = ET.Element("testsuite", name=name, tests=str(len(cases)),
                       failures=str(counts["failure"]), errors=str(counts["error"]),
                       skipped=str(counts["skipped"]),
                       time=f"{sum(float(c.get('time', '0')) for c in cases):.3f}",
                       timestamp=timestamp, hostname=hostname)
    _add_properties(suite, properties or [])  # before the testcases, as JUnit wants
    suite.extend(cases)
    return suite


def _run_properties(run: dict) -> list[tuple[str, Any]]:
    return [("run_id", run.get("id", "")), ("k8s_versions", ",".join(run.get("versions", []))),
            ("kind_versions", ",".join(run.get("kind_versions", []))),
            ("exit_status", "" if run.get("exit_status") is None else str(run["exit_status"]))]


def render(document: dict, hostname: str | None = None) -> bytes:
    """The JUnit XML of an outcomes document; ``hostname`` defaults to this machine's."""
    run = document.get("run", {})
    timestamp, host = str(run.get("started", "")), hostname or socket.gethostname()
    node_images = {c["name"]: c.get("node_image") or "" for c in document.get("clusters", [])}
    cells = [cell_case(CellRecord.from_dict(c)) for c in document.get("cells", [])]
    suites = [_suite(CELL_SUITE, cells, timestamp, host, _run_properties(run))]
    phases = [phase_case(p, node_images) for p in document.get("phases", [])]
    if phases:
        suites.append(_suite(PHASE_SUITE, phases, timestamp, host))
    tests = [other_test_case(t) for t in document.get("tests", [])]
    if tests:
        suites.append(_suite(TEST_SUITE, tests, timestamp, host))
    root = ET.Element("testsuites", name=f"authprobe {run.get('id', '')}".strip())
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr)) for s in suites)))
    root.set("time", f"{sum(float(s.get('time')) for s in suites):.3f}")
    root.extend(suites)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write(document: dict, run_dir: Path) -> Path:
    """Write ``junit.xml`` into ``run_dir``."""
    path = run_dir / FILENAME
    path.write_bytes(render(document))
    return path
