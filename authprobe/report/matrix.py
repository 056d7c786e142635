"""The report a person reads: ``matrix.html`` and ``matrix.md``.

A report of several versions opens with what differs between adjacent versions (classed as
``authprobe diff --adjacent`` classes it), then the failures and errors, then the matrix:
profiles x scenarios, one mark per version, each message said once for the versions that
share it. After an upgrade in place, what ``kubeadm upgrade diff`` said each upgrade
rewrites follows the matrix. The restart plot, the clusters' facts, probes and phases, and
every cell's evidence follow; whatever is long (evidence, samples, every phase, logs) is one
click away in a ``<details>`` the cell's mark links to. ``matrix.html`` is one
self-contained page (inline CSS and SVG, rendered from ``templates/matrix.html.j2``); both
pages are rendered from the same view of an outcomes document (:func:`view`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import jinja2
from markupsafe import Markup

from ..model.outcome import ERROR, FAIL, LABELS, NOT_JUDGED, SKIPPED, CellRecord
from ..model.summary import one_line
from . import changes, judged, markdown, plot, rows, upgrades
from .evidence import AUDIT_COLUMNS, cell_view, cluster_names, cluster_view, phase_grid, run_facts
from .grid import (
    CLASSES,
    HTML_FILENAME,
    HTML_MARKS,
    cell_anchor,
    cells_of,
    counts_line,
    grid,
    legend,
    profiles_in,
    row_anchor,
    short_versions,
)

MD_FILENAME = "matrix.md"
TEMPLATE = "matrix.html.j2"


def problem_groups(cells: Sequence[CellRecord], kinds: Sequence[str],
                   problems: Sequence[str] = ()) -> list[dict]:
    """Cells of ``kinds`` grouped by kind and message (each message said once, with links
    to its cells); a group whose message is a problem of the run says so."""
    groups: list[list[CellRecord]] = []
    for cell in cells:
        if cell.outcome in kinds:
            group = next((g for g in groups if rows.alike(g[0], cell)), None)
            if group is None:
                groups.append([cell])
            else:
                group.append(cell)
    groups.sort(key=lambda g: (kinds.index(g[0].outcome), -len(g)))
    said = {one_line(p) for p in problems} | set(problems)
    return [{"kind": g[0].outcome, "label": LABELS[g[0].outcome], "css": CLASSES[g[0].outcome],
             "message": rows.generic(g[0]) if len(g) > 1 else g[0].message,
             "problem": g[0].message in said,
             "cells": [{"anchor": cell_anchor(c), "name": f"{c.profile} {c.scenario} {c.version}",
                        "mark": HTML_MARKS[c.outcome], "css": CLASSES[c.outcome]}
                       for c in g]}
            for g in groups]


def view(document: dict) -> dict:
    """Everything the Markdown and HTML pages show, computed once from the document."""
    cells = cells_of(document)
    grid_rows, versions, lookup = grid(cells)
    profiles = profiles_in([p for p, _ in grid_rows])
    clusters = [cluster_view(n, document) for n in cluster_names(document, profiles)]
    by_name = {c["name"]: c for c in clusters}
    views = {key: cell_view(cell, by_name) for key, cell in lookup.items()}
    pairs = changes.adjacent(document)
    names = short_versions(versions)
    phase_names, phase_rows = phase_grid(clusters)
    run = document.get("run", {})
    problems = list(run.get("problems", []))
    return {
        "run_id": str(run.get("id", "")), "facts": run_facts(document),
        "counts": counts_line(cells), "legend": legend(), "versions": versions,
        "names": names, "pairs": pairs, "changed": sum(p.changed for p in pairs),
        "not_compared": changes.not_compared(pairs),
        "blocks": rows.blocks(grid_rows, versions, lookup, names, changes.marked(pairs)),
        "failures": problem_groups(cells, (FAIL, ERROR), problems),
        "skipped": problem_groups(cells, (SKIPPED,)),
        "not_judged": problem_groups(cells, (NOT_JUDGED,)),
        "record_command": judged.record_command("<this report's folder>"),
        "recorded": judged.recorded_line(cells),
        "problems": problems, "phases": [p for c in clusters for p in c["phases"]],
        "phase_names": phase_names, "phase_rows": phase_rows,
        "clusters": clusters, "tests": document.get("tests", []),
        "upgrades": upgrades.views(document, cells),
        "audit_columns": AUDIT_COLUMNS,
        "evidence": [{"profile": p, "scenario": s, "id": "evidence-" + row_anchor(p, s),
                      "cells": [views[(p, s, v)] for v in versions if (p, s, v) in views]}
                     for p, s in grid_rows],
    }


def render_md(document: dict) -> str:
    """``matrix.md``: changes, failures, matrix, lifecycle, restarts, probes, logs."""
    return markdown.render(view(document))


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The Jinja2 environment of the report templates; every value is HTML-escaped."""
    loader = jinja2.FileSystemLoader(Path(__file__).parent / "templates")
    env = jinja2.Environment(loader=loader, autoescape=jinja2.select_autoescape(["html", "j2"]),
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["fmt_seconds"] = lambda value: f"{float(value):.1f}"
    env.filters["bold_parts"] = changes.bold_parts
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
