"""What the report shows behind a click: each cell's evidence (expected and observed, the
audit records, the rest of its evidence, the failure's detail) and each cluster's facts,
restart samples, probes, lifecycle phases and exported logs; and the run's own facts.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict

from ..model.outcome import LABELS, CellRecord
from ..model.summary import one_line
from ..model.versions import version_key
from .grid import (
    CLASSES,
    HTML_MARKS,
    anchor,
    cell_anchor,
    row_anchor,
    seconds,
    shown_message,
    size,
)

AUDIT_COLUMNS = ("audit_id", "time", "verb", "uri", "code", "user", "groups", "decision",
                 "reason")
# Lifecycle phase outcomes, drawn with the colours of the cell kinds they resemble.
PHASE_CLASSES = {"passed": "o-pass", "failed": "o-fail", "expected-failure": "o-expected-failure",
                 "skipped": "o-skipped"}


def node_images(document: dict) -> dict[str, list[str]]:
    """Each version's node images, each with its source: those its clusters were made from
    (a merge of runs can hold two of one version), else the run's record of them."""
    run = document.get("run", {})
    found: dict[str, list[str]] = {}
    for cluster in document.get("clusters", []):
        if cluster.get("node_image") and not cluster.get("upgraded_from"):
            source = cluster.get("image_source")
            named = cluster["node_image"] + (f" ({source})" if source else "")
            if named not in found.setdefault(cluster["version"], []):
                found[cluster["version"]].append(named)
    if found:
        return {v: sorted(found[v]) for v in sorted(found, key=version_key)}
    images, sources = run.get("node_images") or {}, run.get("image_sources") or {}
    return {v: [images[v] + (f" ({sources[v]})" if sources.get(v) else "")]
            for v in sorted(images, key=version_key)}


def run_facts(document: dict) -> list[tuple[str, str]]:
    """(name, value) lines that say which run this is and what it ran on."""
    run = document.get("run", {})
    facts = [("run", str(run.get("id", ""))),
             ("Kubernetes", ", ".join(run.get("versions", [])) or "none"),
             ("kind", ", ".join(run.get("kind_versions", [])) or "unknown"),
             ("node images", ", ".join(f"{v}: {' and '.join(images)}"
                                       for v, images in node_images(document).items())),
             ("started", str(run.get("started", ""))), ("finished", str(run.get("finished", "")))]
    if run.get("seconds") is not None:
        facts.append(("duration", seconds(run["seconds"])))
    if run.get("upgrades"):
        facts.append(("upgraded in place", ", ".join(run["upgrades"]) + " (kubeadm upgrade; "
                      "the later version's cells ran on the same clusters, upgraded)"))
    if run.get("merged_from"):
        facts.append(("merged from", ", ".join(run["merged_from"])))
    if run.get("pytest_args") is not None:
        facts.append(("pytest", " ".join(run["pytest_args"]) or "(no arguments)"))
    if run.get("exit_status") is not None:
        facts.append(("exit status", str(run["exit_status"])))
    return [(name, value) for name, value in facts if value]


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


def _audit_value(value) -> str:
    if value is None:
        return ""
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def cell_view(cell: CellRecord, clusters: dict[str, dict]) -> dict:
    """One cell as the pages show it: kind, links, and its evidence ready to print."""
    audit = cell.evidence.get("audit") or []
    other = {k: v for k, v in cell.evidence.items() if k != "audit"}
    cluster = clusters.get(cell.cluster or "", {})
    return {
        "record": cell, "anchor": cell_anchor(cell), "row": row_anchor(cell.profile, cell.scenario),
        "css": CLASSES[cell.outcome],
        "label": LABELS[cell.outcome], "mark": HTML_MARKS[cell.outcome],
        "message": shown_message(cell), "facts": _cell_facts(cell),
        "expected_json": _json(cell.expected), "observed_json": _json(cell.observed),
        "other_json": _json(other) if other else "",
        "audit": [{k: _audit_value(record.get(k)) for k in AUDIT_COLUMNS} for record in audit],
        "series_anchor": cluster["series_anchor"] if cluster.get("has_series") else None,
        "logs_anchor": cluster["logs_anchor"] if cluster.get("logs") else None,
    }


def failure_counts(failures: list[dict]) -> list[dict]:
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


def _tally(items: list[tuple[str, int]]) -> str:
    """"/livez 200 ×34, /readyz 200 ×326": counts summed per label, by label."""
    found: Counter[str] = Counter()
    for label, count in items:
        found[label] += count
    return ", ".join(f"{label} ×{found[label]}" for label in sorted(found))


def cluster_view(name: str, document: dict) -> dict:
    """One cluster's facts, restart series, probe tables, phases and exported logs."""
    record = next((c for c in document.get("clusters", []) if c.get("name") == name), {})
    series = next((s for s in document.get("restart_series", []) if s["cluster"] == name), {})
    logs = [e for e in document.get("logs", []) if e.get("cluster") == name]
    results = [r for r in document.get("probe_results", []) if r["cluster"] == name]
    failures = series.get("probe_failures", [])
    phases = [{**p, "css": PHASE_CLASSES.get(p.get("outcome"), "")}
              for p in document.get("phases", []) if p.get("cluster") == name]
    return {
        "name": name, "profile": record.get("profile") or series.get("profile") or "",
        "version": record.get("version") or series.get("version") or "",
        "image_source": record.get("image_source") or "",
        "came_up": _came_up(record), "listed": bool(record or series),
        "probe_budget": seconds(record.get("probe_budget")),
        "window": seconds(record.get("window")),
        "has_series": bool(series), "shape": series.get("shape") or "",
        "summary": series.get("summary") or "", "samples": series.get("samples", []),
        "probe_results": results, "probe_failures": failure_counts(failures),
        "audited": _tally([(f"{r['path']} {r['code']}", int(r.get("count", 0)))
                           for r in results]),
        "failed": _tally([(f"{f.get('probe') or 'probe'} "
                           f"{f.get('status') if f.get('status') is not None else 'no answer'}",
                           1) for f in failures]),
        "phases": phases, "logs": logs,
        "logs_size": size(sum(int(e.get("bytes", 0)) for e in logs)),
        "anchor": anchor("cluster", name), "series_anchor": anchor("series", name),
        "probes_anchor": anchor("probes", name), "logs_anchor": anchor("logs", name),
    }


def cluster_names(document: dict, profiles: list[str]) -> list[str]:
    """Every cluster the document mentions, by profile (story order), version, name."""
    where: dict[str, tuple[str, str]] = {}
    for item in [*document.get("clusters", []), *document.get("restart_series", []),
                 *document.get("probe_results", []), *document.get("phases", []),
                 *document.get("logs", [])]:
        name = item.get("name") or item.get("cluster")
        if name and (name not in where or not where[name][0]):
            where[name] = (item.get("profile") or "", item.get("version") or "")

    def key(name: str) -> tuple:
        profile, version = where[name]
        rank = profiles.index(profile) if profile in profiles else len(profiles)
        return (rank, version_key(version), name)

    return sorted(where, key=key)


def phase_grid(clusters: list[dict]) -> tuple[list[str], list[dict]]:
    """(phase names in the order they happen, one row per cluster with a phase per name);
    the order is that of the cluster that went through the most phases."""
    longest = [p["phase"] for p in max((c["phases"] for c in clusters), key=len, default=[])]
    found = dict.fromkeys(p["phase"] for c in clusters for p in c["phases"])
    names = sorted(found, key=lambda n: longest.index(n) if n in longest else len(longest))
    rows = [{"cluster": c, "phases": [next((p for p in c["phases"] if p["phase"] == n), None)
                                      for n in names]}
            for c in clusters if c["phases"]]
    return names, rows
