"""``junit.xml``: every test with its properties, and the cluster lifecycle phases as their
own testcases, in the JUnit XML that CI tools read."""

from __future__ import annotations

import json
import re
import socket
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

FILENAME = "junit.xml"

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: Any) -> str:
    """Text safe inside XML 1.0: no terminal colour codes, no forbidden characters."""
    return _NOT_XML.sub("", _ANSI.sub("", str(text)))


def split_nodeid(nodeid: str) -> tuple[str, str]:
    """(classname, name) the way pytest names them: dotted module path (and class), test name."""
    parts = nodeid.split("::")
    module = parts[0]
    if module.endswith(".py"):
        module = module[:-3]
    module = module.replace("/", ".").replace("\\", ".")
    if len(parts) == 1:
        return module, module
    return ".".join([module, *parts[1:-1]]), parts[-1]


def _property_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def _add_properties(parent: ET.Element, properties: list[tuple[str, Any]]) -> None:
    if not properties:
        return
    node = ET.SubElement(parent, "properties")
    for name, value in properties:
        ET.SubElement(node, "property", name=clean(name), value=clean(_property_value(value)))


def _suite(name: str, cases: list[ET.Element], timestamp: str, hostname: str) -> ET.Element:
    counts = {"failure": 0, "error": 0, "skipped": 0}
    total = 0.0
    for case in cases:
        total += float(case.get("time", "0"))
        for kind in counts:
            if case.find(kind) is not None:
                counts[kind] += 1
    suite = ET.Element(
        "testsuite",
        name=name,
        tests=str(len(cases)),
        failures=str(counts["failure"]),
        errors=str(counts["error"]),
        skipped=str(counts["skipped"]),
        time=f"{total:.3f}",
        timestamp=timestamp,
        hostname=hostname,
    )
    suite.extend(cases)
    return suite


def _test_case(test: dict, cell: dict | None) -> ET.Element:
    classname, name = split_nodeid(test["nodeid"])
    case = ET.Element("testcase", classname=clean(classname), name=clean(name),
                      time=f"{float(test.get('duration', 0.0)):.3f}")
    properties = [tuple(p) for p in test.get("properties", [])]
    if cell is not None:
        if cell.get("restart_summary") and not any(p[0] == "restart_summary"
                                                   for p in properties):
            properties.append(("restart_summary", cell["restart_summary"]))
        properties.append(("outcome", cell["outcome"]))
    _add_properties(case, properties)
    message = clean(test.get("message", ""))
    detail = clean(test.get("detail", ""))
    outcome = test["outcome"]
    if outcome == "failed" and cell is not None and cell["outcome"] == "error":
        outcome = "error"  # not an assertion: the scenario could not be checked
    if outcome == "failed":
        ET.SubElement(case, "failure", message=message, type="failure").text = detail
    elif outcome == "error":
        ET.SubElement(case, "error", message=message, type="error").text = detail
    elif outcome == "skipped":
        ET.SubElement(case, "skipped", message=message, type="pytest.skip").text = message
    elif cell is not None and cell.get("message"):
        ET.SubElement(case, "system-out").text = clean(
            f"{cell['outcome']}: {cell['message']}"
        )
    return case


def _phase_case(phase: dict) -> ET.Element:
    classname = f"cluster-lifecycle.{phase['profile']}.k8s{phase['version']}"
    case = ET.Element("testcase", classname=clean(classname), name=clean(phase["phase"]),
                      time=f"{float(phase.get('seconds', 0.0)):.3f}")
    _add_properties(case, [
        ("cluster", phase["cluster"]),
        ("profile", phase["profile"]),
        ("k8s_version", phase["version"]),
        ("node_image", phase.get("node_image") or ""),
        ("phase", phase["phase"]),
        ("outcome", phase["outcome"]),
        *([("logs_dir", phase["logs_dir"])] if phase.get("logs_dir") else []),
    ])
    message = clean(phase.get("message") or "")
    if phase["outcome"] == "failed":
        ET.SubElement(case, "failure", message=message, type="failure").text = message
    elif phase["outcome"] == "skipped":
        ET.SubElement(case, "skipped", message=message)
    elif message:
        ET.SubElement(case, "system-out").text = f"{phase['outcome']}: {message}"
    return case


def render(document: dict, hostname: str | None = None) -> bytes:
    run = document.get("run", {})
    timestamp = run.get("started", "")
    host = hostname or socket.gethostname()
    cells = {c["nodeid"]: c for c in document.get("cells", []) if c.get("nodeid")}
    tests = [_test_case(t, cells.get(t["nodeid"])) for t in document.get("tests", [])]
    phases = [_phase_case(p) for p in document.get("phases", [])]
    root = ET.Element("testsuites", name=f"authprobe {run.get('id', '')}".strip())
    suites = [_suite("authprobe", tests, timestamp, host)]
    if phases:
        suites.append(_suite("authprobe.cluster-lifecycle", phases, timestamp, host))
    _add_properties(suites[0], [
        ("run_id", run.get("id", "")),
        ("k8s_versions", ",".join(run.get("versions", []))),
        ("kind_versions", ",".join(run.get("kind_versions", []))),
    ])
    # JUnit wants <properties> first in a testsuite.
    props = suites[0].find("properties")
    if props is not None:
        suites[0].remove(props)
        suites[0].insert(0, props)
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr)) for s in suites)))
    root.set("time", f"{sum(float(s.get('time')) for s in suites):.3f}")
    root.extend(suites)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def write(document: dict, run_dir: Path) -> Path:
    path = run_dir / FILENAME
    path.write_bytes(render(document))
    return path
