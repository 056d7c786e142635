"""The outcome matrix: rows profile x scenario, columns Kubernetes versions.

``matrix.md`` for reading in a terminal or a PR, ``matrix.html`` as one self-contained
page (inline CSS and SVG) with the evidence of every cell.
"""

from __future__ import annotations

import functools
import json
from collections import defaultdict
from html import escape
from pathlib import Path

from .. import expectations
from ..errors import AuthprobeError
from ..series import Sample
from . import plot
from .outcomes import (
    EXPECTED_FAILURE,
    FAIL,
    NA,
    OUTCOMES,
    PASS,
    SKIPPED,
    Cell,
    one_line,
    version_key,
)

MD_FILENAME = "matrix.md"
HTML_FILENAME = "matrix.html"

LABELS = {
    PASS: "pass",
    FAIL: "fail",
    EXPECTED_FAILURE: "expected failure",
    "error": "error",
    NA: "n/a",
    SKIPPED: "skipped",
}
SYMBOLS = {
    PASS: "✅",
    FAIL: "❌",
    EXPECTED_FAILURE: "☑️",
    "error": "⚠️",
    NA: "➖",
    SKIPPED: "⏭️",
}


def grid(cells: list[Cell]) -> tuple[list[tuple[str, str]], list[str], dict]:
    """(rows, versions, lookup) with lookup[(p, s, v)] -> Cell.

    Rows are (profile, scenario), grouped by profile, in the order of the story
    (the expectation file's order); anything it does not name follows in run order.
    """
    known_profiles, known_scenarios = story_order()
    profiles = list(dict.fromkeys([*(p for p in known_profiles if any(c.profile == p
                                                                      for c in cells)),
                                   *(c.profile for c in cells)]))
    scenarios = list(dict.fromkeys([*(s for s in known_scenarios if any(c.scenario == s
                                                                        for c in cells)),
                                    *(c.scenario for c in cells)]))
    rows = sorted({(c.profile, c.scenario) for c in cells},
                  key=lambda r: (profiles.index(r[0]), scenarios.index(r[1])))
    versions = sorted({c.version for c in cells}, key=version_key)
    return rows, versions, {c.key: c for c in cells}


@functools.lru_cache(maxsize=1)
def story_order() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Profiles and scenarios in the order the expectation file tells the story."""
    try:
        table = expectations.load()
    except AuthprobeError:
        return (), ()
    profiles = dict.fromkeys(p for per in table.scenarios.values() for p in per)
    return tuple(profiles), tuple(table.scenarios)


def counts_line(cells: list[Cell]) -> str:
    counts = {name: sum(1 for c in cells if c.outcome == name) for name in OUTCOMES}
    parts = [f"{n} {LABELS[name]}" for name, n in counts.items() if n]
    return ", ".join(parts) if parts else "no cells"


def _cells_from(document: dict) -> list[Cell]:
    return [Cell.from_dict(c) for c in document.get("cells", [])]


def _run_facts(document: dict) -> list[tuple[str, str]]:
    run = document.get("run", {})
    facts = [
        ("run", run.get("id", "")),
        ("Kubernetes", ", ".join(run.get("versions", [])) or "none"),
        ("kind", ", ".join(run.get("kind_versions", [])) or "unknown"),
        ("started", run.get("started", "")),
        ("finished", run.get("finished", "")),
    ]
    if run.get("merged_from"):
        facts.append(("merged from", ", ".join(run["merged_from"])))
    if run.get("pytest_args") is not None:
        facts.append(("pytest", " ".join(run["pytest_args"]) or "(no arguments)"))
    if run.get("exit_status") is not None:
        facts.append(("exit status", str(run["exit_status"])))
    images = run.get("node_images") or {}
    if images:
        facts.append(("node images", ", ".join(f"{v}: {i}" for v, i in sorted(
            images.items(), key=lambda kv: version_key(kv[0])))))
    return facts


# --- Markdown ---------------------------------------------------------------------------


def _md(text: str) -> str:
    return one_line(text, 200).replace("|", "\\|").replace("\n", " ")


def render_md(document: dict) -> str:
    cells = _cells_from(document)
    rows, versions, lookup = grid(cells)
    run = document.get("run", {})
    out = [f"# authprobe run {run.get('id', '')}", ""]
    out += [f"- **{name}**: {_md(value)}" for name, value in _run_facts(document)]
    out += [f"- **outcomes**: {counts_line(cells)}", ""]
    if not rows:
        out += ["No scenario reached a result in this run.", ""]
    else:
        out += ["| profile | scenario | " + " | ".join(versions) + " |",
                "|---|---|" + "---|" * len(versions)]
    for profile, scenario in rows:
        line = [profile, scenario]
        for version in versions:
            cell = lookup.get((profile, scenario, version))
            if cell is None:
                line.append("not run")
                continue
            link = f"{HTML_FILENAME}#{cell.anchor}"
            text = f"{SYMBOLS[cell.outcome]} [{LABELS[cell.outcome]}]({link})"
            if cell.message:
                text += f" {_md(cell.message)}"
            line.append(text)
        out.append("| " + " | ".join(line) + " |")
    out.append("")
    phases = document.get("phases", [])
    if phases:
        out += ["## Cluster lifecycle", "", "| cluster | profile | version | phase | seconds | "
                "outcome | message |", "|---|---|---|---|---|---|---|"]
        for p in phases:
            out.append(f"| {p['cluster']} | {p['profile']} | {p['version']} | {p['phase']} | "
                       f"{float(p['seconds']):.1f} | {p['outcome']} | "
                       f"{_md(p.get('message', ''))} |")
        out.append("")
    series = document.get("restart_series", [])
    if series:
        out += ["## kube-apiserver restarts", "", "![restart counts over time](restarts.svg)", "",
                "| cluster | profile | version | shape | summary |", "|---|---|---|---|---|"]
        for entry in series:
            out.append(f"| {entry['cluster']} | {entry.get('profile') or ''} | "
                       f"{entry.get('version') or ''} | {entry.get('shape') or ''} | "
                       f"{_md(entry.get('summary', ''))} |")
        out += ["", "All samples: [restarts.csv](restarts.csv)", ""]
    by_cluster: dict[str, list[dict]] = defaultdict(list)
    for entry in document.get("logs", []):
        by_cluster[entry.get("cluster", "")].append(entry)
    if by_cluster:
        out += ["## Exported cluster logs", ""]
        for cluster, entries in sorted(by_cluster.items()):
            size = sum(int(e.get("bytes", 0)) for e in entries)
            out.append(f"- `logs/{cluster}/`: {len(entries)} file(s), {_size(size)}")
            out += [f"  - [{e['path'].rsplit('/', 1)[-1]}]({e['path']})"
                    for e in entries if KEY_LOG in e["path"]][:MAX_KEY_LOGS]
        out.append("")
    return "\n".join(out)


# --- HTML ---------------------------------------------------------------------------------

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #202124;
  line-height: 1.4; }
h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 18px; margin-top: 32px;
  border-bottom: 1px solid #ddd; padding-bottom: 4px; } h3 { font-size: 15px; margin: 0 0 6px; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 16px;
  margin: 0 0 12px; }
dl.facts dt { font-weight: 600; } dl.facts dd { margin: 0; }
table { border-collapse: collapse; margin: 8px 0 16px; }
th, td { border: 1px solid #d0d0d0; padding: 6px 8px; vertical-align: top; text-align: left; }
th { background: #f3f3f3; }
table.matrix td.cell { min-width: 180px; max-width: 340px; }
table.matrix td.cell a { color: inherit; text-decoration: none; display: block; }
table.matrix td.cell a:hover .badge { text-decoration: underline; }
.badge { font-weight: 700; font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.msg { display: block; font-size: 12px; font-family: ui-monospace, Menlo, monospace;
  word-break: break-word; margin-top: 2px; }
.o-pass { background: #e6f4ea; color: #0d652d; }
.o-expected-failure { background: #e8f0fe; color: #1849a9; }
.o-fail { background: #fce8e6; color: #a50e0e; }
.o-error { background: #fef0d9; color: #8a4b00; }
.o-n-a, .o-skipped, .o-none { background: #f5f5f5; color: #5f6368; }
.legend span { display: inline-block; padding: 2px 8px; margin-right: 6px; border-radius: 3px;
  font-size: 12px; }
section.evidence { border: 1px solid #ddd; border-left: 6px solid #9aa0a6; padding: 10px 14px;
  margin: 12px 0; background: #fff; }
section.evidence h3 .badge { padding: 2px 6px; border-radius: 3px; margin-left: 6px; }
section.b-pass { border-left-color: #34a853; } section.b-fail { border-left-color: #d93025; }
section.b-expected-failure { border-left-color: #1a73e8; }
section.b-error { border-left-color: #f29900; }
.pair { display: grid; grid-template-columns: 1fr 1fr; gap: 12px; }
.pair pre { margin-top: 4px; }
.scroll { max-height: 300px; overflow-y: auto; display: inline-block; }
table.restarts { margin: 4px 0; font-size: 12px; }
table.restarts th, table.restarts td { padding: 1px 8px; }
section.evidence:target { box-shadow: 0 0 0 3px #fbbc04; }
pre { background: #f8f8f8; border: 1px solid #e0e0e0; padding: 8px; overflow-x: auto;
  font-size: 12px; max-height: 420px; white-space: pre-wrap; word-break: break-word; }
.plot svg { max-width: 100%; height: auto; border: 1px solid #e0e0e0; }
.small { font-size: 12px; color: #5f6368; }
"""


def _cls(outcome: str | None) -> str:
    return "o-" + (outcome or "none").replace("/", "-")


def _json(value: object) -> str:
    return escape(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


def _restart_table(entry: dict) -> str:
    rows = ["<div class='scroll'><table class='restarts'><tr><th>t (s)</th><th>restarts</th>"
            "<th>ready</th><th>last termination</th><th>source</th></tr>"]
    for sample in entry.get("samples", []):
        s = Sample.from_dict(sample)
        rows.append(f"<tr><td>{s.t:.0f}</td><td>{s.restarts}</td>"
                    f"<td>{'yes' if s.ready else 'no'}</td>"
                    f"<td>{escape(s.last_reason or '')}</td><td>{escape(s.source)}</td></tr>")
    rows.append("</table></div>")
    return "".join(rows)


KEY_LOG = "kube-apiserver"
MAX_KEY_LOGS = 4


def _logs_anchor(cluster: str) -> str:
    return "logs-" + "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in cluster)


def _size(count: int) -> str:
    for unit in ("bytes", "KiB", "MiB"):
        if count < 1024 or unit == "MiB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)


def _series_anchor(cluster: str) -> str:
    return "series-" + "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in cluster)


def render_html(document: dict) -> str:
    cells = _cells_from(document)
    rows, versions, lookup = grid(cells)
    run = document.get("run", {})
    series = document.get("restart_series", [])
    series_by_cluster = {e["cluster"]: e for e in series}
    logs_by_cluster: dict[str, list[dict]] = defaultdict(list)
    for entry in document.get("logs", []):
        logs_by_cluster[entry.get("cluster", "")].append(entry)

    out = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
           f"<title>authprobe {escape(run.get('id', ''))}</title>",
           f"<style>{CSS}</style></head><body>",
           f"<h1>authprobe run {escape(run.get('id', ''))}</h1>", "<dl class='facts'>"]
    for name, value in _run_facts(document):
        out.append(f"<dt>{escape(name)}</dt><dd>{escape(str(value))}</dd>")
    out.append(f"<dt>outcomes</dt><dd>{escape(counts_line(cells))}</dd></dl>")
    out.append("<p class='legend'>" + "".join(
        f"<span class='{_cls(name)}'>{escape(LABELS[name])}</span>" for name in OUTCOMES)
        + "</p>")

    # the matrix
    out.append("<h2 id='matrix'>Outcome matrix</h2>")
    out.append("<table class='matrix' id='outcome-matrix'><thead><tr><th>profile</th>"
               "<th>scenario</th>" + "".join(f"<th>Kubernetes {escape(v)}</th>" for v in versions)
               + "</tr></thead><tbody>")
    for profile, scenario in rows:
        out.append(f"<tr><th>{escape(profile)}</th><td>{escape(scenario)}</td>")
        for version in versions:
            cell = lookup.get((profile, scenario, version))
            if cell is None:
                out.append("<td class='cell o-none'>not run</td>")
                continue
            out.append(
                f"<td class='cell {_cls(cell.outcome)}'><a href='#{cell.anchor}'>"
                f"<span class='badge'>{escape(LABELS[cell.outcome])}</span>"
                f"<span class='msg'>{escape(cell.message)}</span></a></td>")
        out.append("</tr>")
    out.append("</tbody></table>")

    # restarts
    out.append("<h2 id='restarts'>kube-apiserver restarts</h2>")
    out.append("<div class='plot'>" + plot.render(plot.series_lines(document)) + "</div>")
    if series:
        out.append("<p class='small'>All samples: <a href='restarts.csv'>restarts.csv</a></p>")
        out.append("<table><tr><th>cluster</th><th>profile</th><th>version</th><th>shape</th>"
                   "<th>summary</th></tr>")
        for entry in series:
            out.append(f"<tr><td><a href='#{_series_anchor(entry['cluster'])}'>"
                       f"{escape(entry['cluster'])}</a></td>"
                       f"<td>{escape(entry.get('profile') or '')}</td>"
                       f"<td>{escape(entry.get('version') or '')}</td>"
                       f"<td>{escape(entry.get('shape') or '')}</td>"
                       f"<td>{escape(entry.get('summary', ''))}</td></tr>")
        out.append("</table>")
        for entry in series:
            out.append(f"<details id='{_series_anchor(entry['cluster'])}'><summary>Samples of "
                       f"{escape(entry['cluster'])}</summary>{_restart_table(entry)}</details>")

    # lifecycle
    phases = document.get("phases", [])
    if phases:
        out.append("<h2 id='lifecycle'>Cluster lifecycle</h2><table><tr><th>cluster</th>"
                   "<th>profile</th><th>version</th><th>phase</th><th>seconds</th>"
                   "<th>outcome</th><th>message</th></tr>")
        for p in phases:
            outcome = {"passed": PASS, "failed": FAIL}.get(p["outcome"], p["outcome"])
            out.append(f"<tr><td>{escape(p['cluster'])}</td><td>{escape(p['profile'])}</td>"
                       f"<td>{escape(p['version'])}</td><td>{escape(p['phase'])}</td>"
                       f"<td>{float(p['seconds']):.1f}</td>"
                       f"<td class='{_cls(outcome)}'>{escape(p['outcome'])}</td>"
                       f"<td>{escape(p.get('message') or '')}</td></tr>")
        out.append("</table>")

    # logs
    if logs_by_cluster:
        out.append("<h2 id='logs'>Exported cluster logs</h2>")
        for cluster, entries in sorted(logs_by_cluster.items()):
            size = sum(int(e.get("bytes", 0)) for e in entries)
            out.append(f"<details id='{_logs_anchor(cluster)}'><summary>{escape(cluster)}: "
                       f"{len(entries)} file(s), {_size(size)}</summary><ul>")
            for entry in entries:
                out.append(f"<li><a href='{escape(entry['path'])}'>{escape(entry['path'])}</a> "
                           f"<span class='small'>({_size(int(entry.get('bytes', 0)))})</span>"
                           "</li>")
            out.append("</ul></details>")

    # evidence
    out.append("<h2 id='evidence'>Evidence per cell</h2>")
    for profile, scenario in rows:
        for version in versions:
            cell = lookup.get((profile, scenario, version))
            if cell is not None:
                out.append(_evidence(cell, series_by_cluster, logs_by_cluster))
    out.append("</body></html>")
    return "\n".join(out)


def _evidence(cell: Cell, series_by_cluster: dict, logs_by_cluster: dict) -> str:
    border = "b-" + cell.outcome.replace("/", "-")
    parts = [f"<section class='evidence {border}' id='{cell.anchor}'>",
             f"<h3>{escape(cell.profile)} · {escape(cell.scenario)} · Kubernetes "
             f"{escape(cell.version)} <span class='badge {_cls(cell.outcome)}'>"
             f"{escape(LABELS[cell.outcome])}</span></h3>",
             f"<p class='msg'>{escape(cell.message)}</p>",
             "<dl class='facts small'>"]
    for name, value in (("test", cell.nodeid), ("cluster", cell.cluster),
                        ("node image", cell.node_image), ("kind", cell.kind_version),
                        ("scenario time", f"{cell.duration:.1f}s"),
                        ("restarts", cell.restart_summary)):
        if value:
            parts.append(f"<dt>{escape(name)}</dt><dd>{escape(str(value))}</dd>")
    parts.append("</dl>")
    parts.append(f"<div class='pair'><div><b>expected</b><pre>{_json(cell.expected)}</pre></div>"
                 f"<div><b>observed</b><pre>{_json(cell.observed)}</pre></div></div>")
    if cell.detail:
        parts.append(f"<div><b>log tail</b><pre>{escape(cell.detail)}</pre></div>")
    entry = series_by_cluster.get(cell.cluster or "")
    if entry is not None:
        wants_table = "restart_shape" in cell.expected or "restart_shape" in cell.observed
        if wants_table:
            parts.append(f"<div><b>restart series</b> ({escape(entry.get('summary', ''))})"
                         f"{_restart_table(entry)}</div>")
        else:
            parts.append(f"<p class='small'>Restart series of this cluster: <a href="
                         f"'#{_series_anchor(entry['cluster'])}'>{escape(entry['cluster'])}"
                         "</a></p>")
    logs = logs_by_cluster.get(cell.cluster or "", [])
    if logs:
        key = [e for e in logs if KEY_LOG in e["path"]][:MAX_KEY_LOGS]
        parts.append(f"<p class='small'>Exported logs of this cluster: <a href='#"
                     f"{_logs_anchor(cell.cluster or '')}'>{len(logs)} file(s)</a>"
                     + "".join(f", <a href='{escape(e['path'])}' title='{escape(e['path'])}'>"
                               f"{escape(e['path'].rsplit('/', 1)[-1])}</a>" for e in key)
                     + "</p>")
    parts.append("<p class='small'><a href='#matrix'>back to the matrix</a></p></section>")
    return "\n".join(parts)


def write(document: dict, run_dir: Path) -> tuple[Path, Path]:
    md = run_dir / MD_FILENAME
    md.write_text(render_md(document))
    html = run_dir / HTML_FILENAME
    html.write_text(render_html(document))
    return md, html
