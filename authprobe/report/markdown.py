"""``matrix.md``: the report for a terminal or a pull-request comment, from the page view
of :func:`report.matrix.view`. Every mark links to the cell's evidence in ``matrix.html``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..model.summary import one_line
from .changes import NONE
from .grid import HTML_FILENAME, SYMBOLS


def _md(text, limit: int = 200) -> str:
    """One line for a Markdown table: pipes escaped, and ``<`` so no text becomes a tag."""
    return one_line(str(text), limit).replace("|", "\\|").replace("<", "\\<")


def _table(header: Sequence[str], rows: list[Sequence]) -> list[str]:
    """A Markdown table and the blank line after it."""
    return (["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            + ["| " + " | ".join(_md(v) for v in row) + " |" for row in rows] + [""])


def _link(anchor: str, text: str) -> str:
    return f"[{text}]({HTML_FILENAME}#{anchor})"


def _head(page: dict) -> list[str]:
    out = [f"# authprobe run {page['run_id']}", ""]
    out += [f"- **{name}**: {_md(value)}" for name, value in page["facts"]]
    out += [f"- **outcomes**: {page['counts']}", ""]
    out += [f"{k['symbol']} **{k['label']}**: {k['meaning']}  " for k in page["legend"]] + [""]
    if page["problems"]:
        out += ["> **Problems of this run**", ">"]
        out += [f"> - {_md(line)}" for line in page["problems"]] + [""]
    return out


def _rows(page: dict) -> list[str]:
    """The cells no row judged, first, with the command that records their rows; and how
    many cells recorded rows judged."""
    out = []
    if page["not_judged"]:
        count = sum(len(g["cells"]) for g in page["not_judged"])
        out += ["## Not judged", "", f"{count} cells ran with no expectation row for their "
                f"profile and version. Record their rows: `{page['record_command']}`", ""]
        for group in page["not_judged"]:
            links = ", ".join(_link(c["anchor"], c["name"]) for c in group["cells"])
            out.append(f"- {SYMBOLS[group['kind']]} ×{len(group['cells'])}: "
                       f"{_md(group['message'], 300)} ({links})")
        out.append("")
    if page["recorded"]:
        out += [f"Judged by recorded rows: {page['recorded']}.", ""]
    return out


def _side(side) -> str:
    if side is None:
        return "—"
    return _link(side.anchor, f"{SYMBOLS[side.kind]} {side.label}")


def _what(item) -> str:
    if item.only:
        return item.only
    if not item.what:
        return "fails in both runs"
    def code(text: str) -> str:
        return text if text == NONE else f"`{_md(text, 90)}`"

    return "; ".join((f"{name} {before} → {after}" if name == "outcome" else
                      f"{name} {code(before)} → {code(after)}")
                     + (f" ({note})" if note else "")
                     for name, before, after, note in item.what)


def _changes(page: dict) -> list[str]:
    if not page["pairs"]:
        return []
    out = ["## Changes between adjacent versions", "",
           "Classed as `authprobe diff --adjacent` classes them.", ""]
    for pair in page["pairs"]:
        out.append(f"- **{pair.old} → {pair.new}**: {pair.summary}")
        for group in pair.groups:
            for item in group.items:
                out.append(f"  - {group.kind}: {group.profile} {item.scenario}: "
                           f"{_side(item.old)} → {_side(item.new)}: {_what(item)}")
    out += [f"\nNot compared ({where}; recorded by one run only, or no longer declared): "
            f"{', '.join(names)}." for where, names in page["not_compared"]]
    return [*out, ""]


def _problems(page: dict) -> list[str]:
    out = []
    for title, groups in (("Failures and errors", page["failures"]),
                          ("Skipped", page["skipped"])):
        if not groups:
            continue
        out += [f"## {title}", ""]
        for group in groups:
            links = ", ".join(_link(c["anchor"], c["name"]) for c in group["cells"])
            out.append(f"- {SYMBOLS[group['kind']]} **{group['label']}** "
                       f"×{len(group['cells'])}: {_md(group['message'], 300)} ({links})")
        out.append("")
    return out


def _matrix(page: dict) -> list[str]:
    blocks = page["blocks"]
    if not blocks:
        return ["No scenario reached a result in this run.", ""]
    names = [page["names"][v] for v in page["versions"]]
    out = ["## Outcome matrix", "",
           "| profile | scenario | " + " | ".join(names) + " | messages |",
           "|---|---|" + "---|" * len(names) + "---|"]
    for block in blocks:
        for row in block.rows:
            marks = [_link(m.anchor, SYMBOLS[m.kind]) if m else "not run" for m in row.marks]
            runs = [(_md(r.message) if row.uniform else
                     f"{r.span}: {SYMBOLS[r.kind]} {_md(r.message)}") for r in row.runs]
            out.append("| " + " | ".join([_md(block.profile), _md(row.scenario), *marks,
                                          "<br>".join(runs)]) + " |")
    return [*out, ""]


def _upgrades(page: dict) -> list[str]:
    """Each upgrade in place: its cells before and after, and kubeadm's diff as a diff block
    (a line that drops a hand edit says so at its end)."""
    if not page["upgrades"]:
        return []
    out = ["## Upgrades in place: what kubeadm rewrites", "",
           "`kubeadm upgrade diff` ran before `kubeadm upgrade apply`; names, addresses, the "
           "harness's ports and hashes are replaced.", ""]
    for item in page["upgrades"]:
        out += [f"### {item['profile']}: {item['from']} → {item['to']}", "",
                f"- before, on {item['before']['version']}: {item['before']['counts']}; after, "
                f"on {item['after']['version']}: {item['after']['counts']}"]
        if item["kept"]:
            out.append(f"- {_link(item['kept']['anchor'], 'profile kept after the upgrade')}: "
                       f"{_md(item['kept']['message'], 300)}")
        diff = item["diff"]
        if diff is None:
            out += ["- no output of `kubeadm upgrade diff` is recorded for this cluster", ""]
            continue
        out += [f"- kubeadm upgrade diff: {_md(diff['summary'], 300)}", ""]
        if diff["files"]:
            out.append("```diff")
            for found in diff["files"]:
                out += [f"--- {found['file']}"]
                for hunk in found["hunks"]:
                    out.append(f"@@ {hunk['at']} @@" + (f" {hunk['where']}" if hunk["where"]
                                                        else ""))
                    out += [f"{line['op']}{line['text']}"
                            + (f"    # {line['mark']}" if line["mark"] else "")
                            for line in hunk["lines"]]
            out += ["```", ""]
    return out


def _phases(page: dict) -> list[str]:
    if not page["phases"]:
        return []
    return ["## Cluster lifecycle", "", *_table(
        ["cluster", "profile", "version", "phase", "seconds", "outcome", "message"],
        [(p["cluster"], p["profile"], p["version"], p["phase"], f"{float(p['seconds']):.1f}",
          p["outcome"], p.get("message") or "") for p in page["phases"]])]


def _clusters(page: dict) -> list[str]:
    clusters = page["clusters"]
    out = []
    if any(c["listed"] for c in clusters):
        out += ["## kube-apiserver restarts", "", "![restart counts over time](restarts.svg)", ""]
        out += _table(["cluster", "profile", "version", "came up", "shape", "summary",
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
        out += _table(["cluster", "path", "code", "user", "count"], results)
    if failures:
        out += ["Probe failures the kubelet logged:", ""]
        out += _table(["cluster", "probe", "status", "output", "count"], failures)
    logs = [c for c in clusters if c["logs"]]
    if logs:
        out += ["## Exported cluster logs", ""]
        out += [f"- `logs/{c['name']}/`: {len(c['logs'])} file(s), {c['logs_size']}"
                for c in logs] + [""]
    return out


def render(page: dict) -> str:
    return "\n".join([*_head(page), *_rows(page), *_changes(page), *_problems(page),
                      *_matrix(page), *_upgrades(page), *_phases(page), *_clusters(page)])
