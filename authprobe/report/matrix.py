"""The outcome matrix: rows profile x scenario, columns Kubernetes versions.

``matrix.md`` is for a terminal or a PR comment; ``matrix.html`` is one self-contained page
(inline CSS and SVG, rendered from ``templates/matrix.html.j2``) with the evidence of every
cell. Both are rendered from the same view of an outcomes document (:func:`view`).
"""

from __future__ import annotations

import functools
import json
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import jinja2
from markupsafe import Markup

from .. import paths
from ..errors import AuthprobeError
from ..model import expectations
from ..model.outcome import (
    ERROR,
    EXPECTED_FAILURE,
    FAIL,
    LABELS,
    MEANING,
    NA,
    OUTCOMES,
    PASS,
    SKIPPED,
    CellRecord,
)
from ..model.summary import one_line
from ..model.versions import version_key
from . import plot

MD_FILENAME = "matrix.md"
HTML_FILENAME = "matrix.html"
TEMPLATE = "matrix.html.j2"
NOT_RUN = "not run"

CLASSES = {PASS: "o-pass", EXPECTED_FAILURE: "o-expected-failure", FAIL: "o-fail",
           ERROR: "o-error", SKIPPED: "o-skipped", NA: "o-na"}
SYMBOLS = {PASS: "✅", EXPECTED_FAILURE: "☑️", FAIL: "❌", ERROR: "⚠️", SKIPPED: "⏭️",
           NA: "➖"}
# Lifecycle phase outcomes, drawn with the colours of the cell kinds they resemble.
PHASE_CLASSES = {"passed": CLASSES[PASS], "failed": CLASSES[FAIL],
                 "expected-failure": CLASSES[EXPECTED_FAILURE], "skipped": CLASSES[SKIPPED]}
AUDIT_COLUMNS = ("audit_id", "time", "verb", "uri", "code", "user", "groups", "decision",
                 "reason")

Rows = list[tuple[str, str]]
Lookup = dict[tuple[str, str, str], CellRecord]


@functools.lru_cache(maxsize=1)
def story_order() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Profiles and scenarios in the order the shipped expectation file tells the story;
    empty when the file cannot be read (the matrix then keeps the run's order)."""
    try:
        table = expectations.load_files([paths.scenarios_dir() / "expectations.yaml"])
    except (AuthprobeError, RuntimeError):
        return (), ()
    pairs = table.pairs()
    return (tuple(dict.fromkeys(p for _, p, _ in pairs)),
            tuple(dict.fromkeys(s for s, _, _ in pairs)))


def _ordered(known: Sequence[str], seen: Sequence[str]) -> list[str]:
    """``seen`` without repeats: the names ``known`` lists first, in its order."""
    present = set(seen)
    return list(dict.fromkeys([*(name for name in known if name in present), *seen]))


def grid(cells: Sequence[CellRecord]) -> tuple[Rows, list[str], Lookup]:
    """(rows, versions, lookup): rows are (profile, scenario) grouped by profile in the
    story's order, versions the columns, ``lookup[(profile, scenario, version)]`` a cell."""
    known_profiles, known_scenarios = story_order()
    profiles = _ordered(known_profiles, [c.profile for c in cells])
    scenarios = _ordered(known_scenarios, [c.scenario for c in cells])
    rows = sorted({(c.profile, c.scenario) for c in cells},
                  key=lambda r: (profiles.index(r[0]), scenarios.index(r[1])))
    versions = sorted({c.version for c in cells}, key=version_key)
    return rows, versions, {c.key: c for c in cells}


def scenario_order(rows: Rows) -> list[str]:
    """The scenarios of ``rows`` in the story's order (for one mark column per scenario)."""
    return _ordered(story_order()[1], [s for _, s in rows])


def anchor(prefix: str, *parts: str) -> str:
    """An HTML id made of ``prefix`` and ``parts``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", "-".join([prefix, *map(str, parts)]))


def cell_anchor(cell: CellRecord) -> str:
    return anchor("cell", cell.profile, cell.scenario, cell.version)


def cells_of(document: dict) -> list[CellRecord]:
    """The cell records of an outcomes document."""
    return [CellRecord.from_dict(c) for c in document.get("cells", [])]


def counts(cells: Sequence[CellRecord]) -> dict[str, int]:
    """Cells per outcome kind, every kind present."""
    found = Counter(c.outcome for c in cells)
    return {kind: found.get(kind, 0) for kind in OUTCOMES}


def counts_line(cells: Sequence[CellRecord]) -> str:
    """"3 pass, 1 fail": the kinds that occur, in the order of OUTCOMES."""
    parts = [f"{n} {LABELS[kind]}" for kind, n in counts(cells).items() if n]
    return ", ".join(parts) if parts else "no cells"


def size(count: int) -> str:
    """A byte count for people: bytes, KiB or MiB."""
    if count < 1024:
        return f"{count} bytes"
    return f"{count / 1024:.1f} KiB" if count < 1024 * 1024 else f"{count / 1048576:.1f} MiB"


def seconds(value: float | None) -> str:
    """Whole seconds with a unit, empty when unknown."""
    return "" if value is None else f"{float(value):.0f}s"


def run_facts(document: dict) -> list[tuple[str, str]]:
    """(name, value) lines that say which run this is and what it ran on."""
    run = document.get("run", {})
    images = run.get("node_images") or {}
    sources = run.get("image_sources") or {}
    facts = [("run", str(run.get("id", ""))),
             ("Kubernetes", ", ".join(run.get("versions", [])) or "none"),
             ("kind", ", ".join(run.get("kind_versions", [])) or "unknown"),
             ("node images", ", ".join(
                 f"{v}: {images[v]}" + (f" ({sources[v]})" if sources.get(v) else "")
                 for v in sorted(images, key=version_key))),
             ("started", str(run.get("started", ""))), ("finished", str(run.get("finished", "")))]
    if run.get("seconds") is not None:
        facts.append(("duration", seconds(run["seconds"])))
    if run.get("merged_from"):
        facts.append(("merged from", ", ".join(run["merged_from"])))
    if run.get("pytest_args") is not None:
        facts.append(("pytest", " ".join(run["pytest_args"]) or "(no arguments)"))
    if run.get("exit_status") is not None:
        facts.append(("exit status", str(run["exit_status"])))
    return [(name, value) for name, value in facts if value]


def legend() -> list[dict]:
    """Every outcome kind with its label, meaning, CSS class and Markdown symbol."""
    return [{"kind": kind, "label": LABELS[kind], "meaning": MEANING[kind],
             "css": CLASSES[kind], "symbol": SYMBOLS[kind]} for kind in OUTCOMES]


def _json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)


def _cell_facts(cell: CellRecord) -> list[tuple[str, str]]:
    """The facts an evidence section lists: where the cell ran and where its row came from."""
    seen = cell.expected.get("seen")
    facts = [("test", cell.nodeid), ("cluster", cell.cluster), ("node image", cell.node_image),
             ("image source", cell.image_source), ("kind", cell.kind_version),
             ("scenario time", f"{cell.duration:.1f}s"), ("note", cell.expected.get("note")),
             ("seen", ", ".join(seen) if isinstance(seen, list) else seen)]
    return [(name, str(value)) for name, value in facts if value]


def shown_message(cell: CellRecord) -> str:
    """The message next to the kind's label (which already says n/a)."""
    return cell.message.removeprefix("n/a: ") if cell.outcome == NA else cell.message


def _cell_view(cell: CellRecord, clusters: dict[str, dict]) -> dict:
    """One cell as the pages show it: kind, links, and its evidence ready to print."""
    audit = cell.evidence.get("audit") or []
    other = {k: v for k, v in cell.evidence.items() if k != "audit"}
    cluster = clusters.get(cell.cluster or "", {})
    return {
        "record": cell, "anchor": cell_anchor(cell), "css": CLASSES[cell.outcome],
        "label": LABELS[cell.outcome], "symbol": SYMBOLS[cell.outcome],
        "message": shown_message(cell), "facts": _cell_facts(cell),
        "expected_json": _json(cell.expected), "observed_json": _json(cell.observed),
        "other_json": _json(other) if other else "",
        "audit": [{k: _audit_value(record.get(k)) for k in AUDIT_COLUMNS} for record in audit],
        "series_anchor": cluster["series_anchor"] if cluster.get("has_series") else None,
        "logs_anchor": cluster["logs_anchor"] if cluster.get("logs") else None,
    }


def _audit_value(value) -> str:
    if value is None:
        return ""
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def _failure_counts(failures: list[dict]) -> list[dict]:
    """Kubelet probe failures counted by probe, status and output, with first and last t."""
    groups: dict[tuple, list[float]] = defaultdict(list)
    for item in failures:
        key = (str(item.get("probe") or ""), item.get("status"), str(item.get("output") or ""))
        groups[key].append(float(item.get("t", 0.0)))
    return [{"probe": probe, "status": "" if status is None else str(status),
             "output": one_line(output, 120), "count": len(times),
             "first": seconds(min(times)), "last": seconds(max(times))}
            for (probe, status, output), times in sorted(groups.items(), key=lambda kv: str(kv[0]))]


def _came_up(record: dict) -> str:
    """Whether the cluster's control plane came up, and why not."""
    if record.get("came_up") is None:
        return ""
    failure = f": {record['start_failure']}" if record.get("start_failure") else ""
    return "yes" if record["came_up"] else f"no{failure}"


def _cluster_view(name: str, document: dict) -> dict:
    """One cluster's facts, restart series, probe tables and exported logs."""
    record = next((c for c in document.get("clusters", []) if c.get("name") == name), {})
    series = next((s for s in document.get("restart_series", []) if s["cluster"] == name), {})
    logs = [e for e in document.get("logs", []) if e.get("cluster") == name]
    return {
        "name": name, "profile": record.get("profile") or series.get("profile") or "",
        "version": record.get("version") or series.get("version") or "",
        "image_source": record.get("image_source") or "",
        "came_up": _came_up(record), "listed": bool(record or series),
        "probe_budget": seconds(record.get("probe_budget")),
        "window": seconds(record.get("window")),
        "has_series": bool(series), "shape": series.get("shape") or "",
        "summary": series.get("summary") or "", "samples": series.get("samples", []),
        "probe_results": [r for r in document.get("probe_results", []) if r["cluster"] == name],
        "probe_failures": _failure_counts(series.get("probe_failures", [])),
        "logs": logs, "logs_size": size(sum(int(e.get("bytes", 0)) for e in logs)),
        "series_anchor": anchor("series", name), "probes_anchor": anchor("probes", name),
        "logs_anchor": anchor("logs", name),
    }


def _cluster_names(document: dict, profiles: list[str]) -> list[str]:
    """Every cluster the document mentions, by profile (story order), version, name."""
    where: dict[str, tuple[str, str]] = {}
    for item in [*document.get("clusters", []), *document.get("restart_series", []),
                 *document.get("probe_results", []), *document.get("logs", [])]:
        name = item.get("name") or item.get("cluster")
        if name and (name not in where or not where[name][0]):
            where[name] = (item.get("profile") or "", item.get("version") or "")

    def key(name: str) -> tuple:
        profile, version = where[name]
        rank = profiles.index(profile) if profile in profiles else len(profiles)
        return (rank, version_key(version), name)

    return sorted(where, key=key)


def view(document: dict) -> dict:
    """Everything the Markdown and HTML pages show, computed once from the document."""
    cells = cells_of(document)
    rows, versions, lookup = grid(cells)
    profiles = _ordered(story_order()[0], [p for p, _ in rows])
    clusters = [_cluster_view(n, document) for n in _cluster_names(document, profiles)]
    by_name = {c["name"]: c for c in clusters}
    views = {key: _cell_view(cell, by_name) for key, cell in lookup.items()}
    run = document.get("run", {})
    return {
        "run_id": str(run.get("id", "")), "facts": run_facts(document),
        "counts": counts_line(cells), "legend": legend(), "versions": versions,
        "rows": [{"profile": p, "scenario": s, "cells": [views.get((p, s, v)) for v in versions]}
                 for p, s in rows],
        "problems": list(run.get("problems", [])),
        "phases": [{**p, "css": PHASE_CLASSES.get(p.get("outcome"), "")}
                   for p in document.get("phases", [])],
        "clusters": clusters, "tests": document.get("tests", []),
        "audit_columns": AUDIT_COLUMNS,
        "probed": [c for c in clusters if c["probe_results"] or c["probe_failures"]],
        "evidence": [views[(p, s, v)] for p, s in rows for v in versions if (p, s, v) in views],
    }


# --- Markdown ------------------------------------------------------------------------------


def _md(text) -> str:
    """One line for a Markdown table: pipes escaped, and ``<`` so no text becomes a tag."""
    return one_line(str(text), 200).replace("|", "\\|").replace("<", "\\<")


def _md_table(header: Sequence[str], rows: list[Sequence]) -> list[str]:
    """A Markdown table and the blank line after it."""
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(_md(v) for v in row) + " |" for row in rows] + [""])


def _md_cell(cell: dict | None) -> str:
    if cell is None:
        return NOT_RUN
    text = f"{cell['symbol']} [{cell['label']}]({HTML_FILENAME}#{cell['anchor']})"
    return f"{text} {_md(cell['message'])}" if cell["message"] else text


def _md_matrix(page: dict) -> list[str]:
    if not page["rows"]:
        return ["No scenario reached a result in this run.", ""]
    head = ["| profile | scenario | " + " | ".join(page["versions"]) + " |",
            "|---|---|" + "---|" * len(page["versions"])]
    body = ["| " + " | ".join([_md(r["profile"]), _md(r["scenario"]),
                               *(_md_cell(c) for c in r["cells"])]) + " |" for r in page["rows"]]
    return ["## Outcome matrix", "", *head, *body, ""]


def _md_head(page: dict) -> list[str]:
    out = [f"# authprobe run {page['run_id']}", ""]
    out += [f"- **{name}**: {_md(value)}" for name, value in page["facts"]]
    out += [f"- **outcomes**: {page['counts']}", ""]
    out += [f"{k['symbol']} **{k['label']}**: {k['meaning']}  " for k in page["legend"]] + [""]
    if page["problems"]:
        out += ["> **Problems of this run**", ">"]
        out += [f"> - {_md(line)}" for line in page["problems"]] + [""]
    return out


def _md_clusters(page: dict) -> list[str]:
    clusters = page["clusters"]
    out = []
    if any(c["listed"] for c in clusters):
        out += ["## kube-apiserver restarts", "", "![restart counts over time](restarts.svg)", ""]
        out += _md_table(["cluster", "profile", "version", "came up", "shape", "summary",
                          "probe budget", "window"],
                         [(c["name"], c["profile"], c["version"], c["came_up"], c["shape"],
                           c["summary"], c["probe_budget"], c["window"])
                          for c in clusters if c["listed"]])
        out += ["All samples: [restarts.csv](restarts.csv)", ""]
    results = [(c["name"], r["path"], r["code"], r.get("user") or "(none)", r["count"])
               for c in clusters for r in c["probe_results"]]
    failures = [(c["name"], f["probe"], f["status"], f["output"], f["count"])
                for c in clusters for f in c["probe_failures"]]
    if results or failures:
        out += ["## Probes", ""]
    if results:
        out += ["The kubelet's probe requests, as the apiserver audited them:", ""]
        out += _md_table(["cluster", "path", "code", "user", "count"], results)
    if failures:
        out += ["Probe failures the kubelet logged:", ""]
        out += _md_table(["cluster", "probe", "status", "output", "count"], failures)
    logs = [c for c in clusters if c["logs"]]
    if logs:
        out += ["## Exported cluster logs", ""]
        out += [f"- `logs/{c['name']}/`: {len(c['logs'])} file(s), {c['logs_size']}"
                for c in logs] + [""]
    return out


def _md_phases(page: dict) -> list[str]:
    if not page["phases"]:
        return []
    return ["## Cluster lifecycle", "", *_md_table(
        ["cluster", "profile", "version", "phase", "seconds", "outcome", "message"],
        [(p["cluster"], p["profile"], p["version"], p["phase"], f"{float(p['seconds']):.1f}",
          p["outcome"], p.get("message") or "") for p in page["phases"]])]


def render_md(document: dict) -> str:
    """``matrix.md``: facts, legend, problems, matrix, lifecycle, restarts, probes, logs."""
    page = view(document)
    return "\n".join([*_md_head(page), *_md_matrix(page), *_md_phases(page),
                      *_md_clusters(page)])


# --- HTML ----------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the report templates; every value is HTML-escaped."""
    loader = jinja2.FileSystemLoader(Path(__file__).parent / "templates")
    env = jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape(["html", "j2"]),
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt_seconds"] = lambda value: f"{float(value):.1f}"
    return env


def render_html(document: dict) -> str:
    """``matrix.html``: the Markdown's content plus the plot and every cell's evidence."""
    svg = plot.render(plot.series_lines(document))
    return environment().get_template(TEMPLATE).render(page=view(document), svg=Markup(svg))


def write(document: dict, run_dir: Path) -> tuple[Path, Path]:
    """Write ``matrix.md`` and ``matrix.html`` into ``run_dir``."""
    md = run_dir / MD_FILENAME
    md.write_text(render_md(document))
    html = run_dir / HTML_FILENAME
    html.write_text(render_html(document))
    return md, html
