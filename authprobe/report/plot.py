"""``restarts.svg``: kube-apiserver restarts over time, one small panel per profile and, in
it, one lane per cluster, named by its Kubernetes version.

In a lane the step line is the restart count (from 0 at the lane's foot to the most restarts
of any lane of the panel), its dots the samples (filled where the apiserver was Ready), the
ticks across it the kubelet's probe failures of that cluster (coloured by HTTP status), the
dashed line the probe budget; the count at the end is written at the right. Every panel
shares one time axis. Plain SVG text, so the HTML report inlines it and any browser shows
it; every text in it is escaped.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from ..model.series import Sample
from ..model.versions import version_key
from .grid import profiles_in

FILENAME = "restarts.svg"

# Okabe-Ito: distinguishable with the common colour-vision deficiencies; one per profile.
COLOURS = ("#0072B2", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#F0E442")
STATUS_COLOURS = {401: "#D55E00", None: "#8c8c8c"}
OTHER_STATUS = "#7B3294"

WIDTH = 1160
MARGIN, GAP = 12, 28  # outer margin; space between panel columns
HEAD = 58  # title and legend above the panels
LABEL_W, NOTE_W = 66, 124  # lane labels on the left, the end count on the right
PANEL_HEAD, AXIS_H, PANEL_GAP = 24, 36, 14
FONT = 12


@dataclass
class Line:
    """One cluster's restart series and the kubelet's probe failures on it."""

    label: str
    samples: list[Sample]
    group: str = ""  # the profile: picks the panel and its colour
    variant: str = ""  # the Kubernetes version: names the lane
    failures: list[dict] = field(default_factory=list)  # {t, probe, status, output}
    budget: float | None = None  # the probe budget of the cluster, in seconds
    shape: str = ""
    summary: str = ""


def nice_step(span: float, target: int = 6, integer: bool = False) -> float:
    """A round tick spacing (1, 2 or 5 times a power of ten) giving about ``target`` ticks."""
    if span <= 0:
        return 1.0
    raw = span / target
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        step = factor * power
        if step >= raw:
            break
    if integer:
        step = max(1.0, float(round(step)))
    return float(step)


def ticks(upper: float, integer: bool = False, target: int = 6) -> list[float]:
    step = nice_step(upper, target, integer=integer)
    count = int(math.ceil(upper / step - 1e-9))
    return [i * step for i in range(count + 1)]


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:g}"


def _attr(text: str) -> str:
    return escape(str(text), quote=True)


def status_colour(status) -> str:
    return STATUS_COLOURS.get(status, OTHER_STATUS)


def restarts_at(samples: list[Sample], t: float) -> int:
    """The restart count the series had at ``t`` (its first count before its first sample)."""
    found = samples[0].restarts if samples else 0
    for sample in samples:
        if sample.t > t:
            break
        found = sample.restarts
    return found


@dataclass
class Panel:
    """One profile's lanes, placed on the canvas."""

    name: str
    lines: list[Line]
    colour: str
    x: float = 0.0
    y: float = 0.0
    width: float = 0.0

    @property
    def lane(self) -> float:
        return max(22.0, min(56.0, 150.0 / max(len(self.lines), 1)))

    @property
    def height(self) -> float:
        return PANEL_HEAD + self.lane * len(self.lines) + AXIS_H

    @property
    def left(self) -> float:
        """Where the lanes start: right of the longest lane label (bold, about 7 px a
        character)."""
        longest = max((len(line.variant) for line in self.lines), default=0)
        return self.x + max(LABEL_W, 7.2 * longest + 14)

    @property
    def right(self) -> float:
        return self.x + self.width - NOTE_W

    @property
    def most(self) -> int:
        return max([s.restarts for line in self.lines for s in line.samples] + [1])


@dataclass(frozen=True)
class Scale:
    """Seconds to x within a panel; the same time span for every panel."""

    x_ticks: tuple[float, ...]

    def x(self, panel: Panel, t: float) -> float:
        return panel.left + (panel.right - panel.left) * (max(t, 0.0) / self.x_ticks[-1])


def _scale(lines: list[Line]) -> Scale:
    times = [s.t for line in lines for s in line.samples]
    times += [float(f.get("t", 0.0)) for line in lines for f in line.failures]
    times += [line.budget for line in lines if line.budget]
    return Scale(tuple(ticks(max(max(times, default=0.0), 10.0))))


def _panels(lines: list[Line]) -> tuple[list[Panel], float]:
    """The panels in the lines' order, laid out in one or two columns; the canvas height."""
    names = list(dict.fromkeys(line.group for line in lines))
    panels = [Panel(name, [line for line in lines if line.group == name],
                    COLOURS[index % len(COLOURS)]) for index, name in enumerate(names)]
    columns = 1 if len(panels) == 1 else 2
    width = (WIDTH - 2 * MARGIN - (columns - 1) * GAP) / columns
    y = HEAD
    for start in range(0, len(panels), columns):
        row = panels[start:start + columns]
        for column, panel in enumerate(row):
            panel.x, panel.y, panel.width = MARGIN + column * (width + GAP), y, width
        y += max(p.height for p in row) + PANEL_GAP
    return panels, y


def _head(title: str, any_failure: bool) -> list[str]:
    """The title and the legend of every mark."""
    out = [f'<text x="{MARGIN}" y="18" font-size="15" font-weight="bold">{_attr(title)}</text>']
    y, x = 42, MARGIN
    items = [("dot", "#555", "Ready"), ("ring", "#555", "not Ready")]
    if any_failure:
        items += [("tick", status_colour(401), "kubelet probe failure: HTTP 401"),
                  ("tick", status_colour(None), "no answer"),
                  ("tick", OTHER_STATUS, "other status")]
    items += [("budget", "#333", "probe budget"),
              ("step", "#555", "restart count, 0 to the panel's most")]
    for kind, colour, text in items:
        if kind in ("dot", "ring"):
            fill = colour if kind == "dot" else "#ffffff"
            out.append(f'<circle class="legend-marker" cx="{x + 5}" cy="{y - 4}" r="3.2" '
                       f'fill="{fill}" stroke="{colour}" stroke-width="1.2"/>')
        elif kind == "tick":
            out.append(f'<line class="legend-marker" x1="{x + 5}" y1="{y - 10}" x2="{x + 5}" '
                       f'y2="{y + 2}" stroke="{colour}" stroke-width="2"/>')
        elif kind == "budget":
            out.append(f'<line x1="{x + 5}" y1="{y - 11}" x2="{x + 5}" y2="{y + 3}" '
                       f'stroke="{colour}" stroke-dasharray="3 2"/>')
        else:
            out.append(f'<path d="M{x},{y} L{x + 6},{y} L{x + 6},{y - 8} L{x + 14},{y - 8}" '
                       f'fill="none" stroke="{colour}" stroke-width="1.6"/>')
        out.append(f'<text x="{x + 18}" y="{y}" fill="#444">{_attr(text)}</text>')
        x += 18 + len(text) * 6.3 + 16
    return out


def _axis(panel: Panel, scale: Scale) -> list[str]:
    """Grid lines across the lanes, and the time axis under them."""
    top = panel.y + PANEL_HEAD
    bottom = top + panel.lane * len(panel.lines)
    out = []
    for value in scale.x_ticks:
        x = scale.x(panel, value)
        out.append(f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" '
                   'stroke="#ececec"/>')
        out.append(f'<line x1="{x:.1f}" y1="{bottom:.1f}" x2="{x:.1f}" y2="{bottom + 4:.1f}" '
                   'stroke="#333"/>')
        out.append(f'<text x="{x:.1f}" y="{bottom + 16:.1f}" text-anchor="middle" '
                   f'font-size="11">{_fmt(value)}</text>')
    out.append(f'<line x1="{panel.left:.1f}" y1="{bottom:.1f}" x2="{panel.right:.1f}" '
               f'y2="{bottom:.1f}" stroke="#333"/>')
    out.append(f'<text x="{(panel.left + panel.right) / 2:.1f}" y="{bottom + 30:.1f}" '
               'text-anchor="middle" font-size="11" fill="#555">seconds since kube-apiserver '
               'started</text>')
    return out


def _series(line: Line, panel: Panel, scale: Scale, foot: float, rise: float) -> list[str]:
    """The step path of the restart count, and a dot per sample (filled where Ready)."""
    def y(restarts: int) -> float:
        return foot - rise * restarts / panel.most

    steps = []
    for i, sample in enumerate(line.samples):
        x = scale.x(panel, sample.t)
        if i and line.samples[i - 1].restarts != sample.restarts:
            steps.append(f"{x:.1f},{y(line.samples[i - 1].restarts):.1f}")
        steps.append(f"{x:.1f},{y(sample.restarts):.1f}")
    out = [f'<path class="series" fill="none" stroke="{panel.colour}" stroke-width="2" '
           f'd="M{" L".join(steps)}"><title>{_attr(line.label)}</title></path>'] if steps else []
    for sample in line.samples:
        fill = panel.colour if sample.ready else "#ffffff"
        tip = (f"{line.label}: t={sample.t:.0f}s restarts={sample.restarts} "
               f"ready={'yes' if sample.ready else 'no'} source={sample.source}"
               + (f" last={sample.last_reason}" if sample.last_reason else ""))
        out.append(f'<circle cx="{scale.x(panel, sample.t):.1f}" cy="{y(sample.restarts):.1f}" '
                   f'r="2.4" fill="{fill}" stroke="{panel.colour}" stroke-width="1.1">'
                   f'<title>{_attr(tip)}</title></circle>')
    for failure in line.failures:
        t = float(failure.get("t", 0.0))
        status = failure.get("status")
        tip = (f"{line.label}: {failure.get('probe') or 'probe'} probe failed at t={t:.0f}s"
               + (f" (HTTP {status})" if status is not None else "")
               + (f": {failure['output']}" if failure.get("output") else ""))
        x, at = scale.x(panel, t), y(restarts_at(line.samples, t))
        out.append(f'<line class="probe-failure" x1="{x:.1f}" y1="{at - 6:.1f}" x2="{x:.1f}" '
                   f'y2="{at + 6:.1f}" stroke="{status_colour(status)}" stroke-width="1.6" '
                   f'stroke-opacity="0.8"><title>{_attr(tip)}</title></line>')
    return out


def _note(line: Line) -> str:
    """What the lane ended with: its restart count, or that it never came up."""
    last = line.samples[-1].restarts if line.samples else 0
    count = f"{last} restart{'' if last == 1 else 's'}"
    return f"never up, {count}" if line.shape == "never-up" else count


def _lane(line: Line, index: int, panel: Panel, scale: Scale) -> list[str]:
    top = panel.y + PANEL_HEAD + index * panel.lane
    foot, rise = top + panel.lane - 5, panel.lane - 11
    out = [f'<g class="lane" data-version="{_attr(line.variant)}">']
    if index % 2:
        out.append(f'<rect x="{panel.x:.1f}" y="{top:.1f}" width="{panel.width:.1f}" '
                   f'height="{panel.lane:.1f}" fill="#f6f7f9"/>')
    out.append(f'<line x1="{panel.left:.1f}" y1="{foot:.1f}" x2="{panel.right:.1f}" '
               f'y2="{foot:.1f}" stroke="#d5d5d5"/>')
    tip = f"{line.label}" + (f": {line.summary}" if line.summary else "")
    out.append(f'<text class="series-label" x="{panel.left - 8:.1f}" y="{foot - 1:.1f}" '
               f'text-anchor="end" font-weight="600">{_attr(line.variant)}'
               f'<title>{_attr(tip)}</title></text>')
    if line.budget:
        x = scale.x(panel, line.budget)
        out.append(f'<line class="probe-budget" x1="{x:.1f}" y1="{top + 2:.1f}" x2="{x:.1f}" '
                   f'y2="{foot + 4:.1f}" stroke="#333" stroke-dasharray="3 2">'
                   f'<title>{_attr(line.label)}: probe budget {line.budget:.0f}s</title></line>')
    out += _series(line, panel, scale, foot, rise)
    out.append(f'<text class="end-note" x="{panel.right + 8:.1f}" y="{foot - 1:.1f}" '
               f'font-size="11" fill="#333">{_attr(_note(line))}</text>')
    return [*out, "</g>"]


def _caption(panel: Panel) -> str:
    """After the profile's name: how many clusters, and their probe budget."""
    budgets = sorted({line.budget for line in panel.lines if line.budget})
    count = len(panel.lines)
    text = f"  {count} cluster{'' if count == 1 else 's'}"
    return text + (", probe budget " + ", ".join(f"{b:.0f}s" for b in budgets) if budgets else "")


def _panel(panel: Panel, scale: Scale) -> list[str]:
    out = [f'<g class="panel" data-profile="{_attr(panel.name)}">',
           f'<rect x="{panel.x:.1f}" y="{panel.y + 5:.1f}" width="10" height="10" '
           f'fill="{panel.colour}"/>',
           f'<text class="panel-title" x="{panel.x + 16:.1f}" y="{panel.y + 14:.1f}" '
           f'font-size="13" font-weight="bold">{_attr(panel.name)}'
           f'<tspan font-weight="normal" font-size="11" fill="#555">{_attr(_caption(panel))}'
           '</tspan></text>']
    out += _axis(panel, scale)
    for index, line in enumerate(panel.lines):
        out += _lane(line, index, panel, scale)
    return [*out, "</g>"]


def render(lines: Sequence[Line], title: str = "") -> str:
    """SVG text for ``lines``; a line needs samples or probe failures to be drawn."""
    title = title or "kube-apiserver restarts over time: a panel per profile, a lane per cluster"
    lines = [line for line in lines if line.samples or line.failures]
    panels, height = _panels(lines)
    height = max(height, HEAD + 60)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" '
           f'viewBox="0 0 {WIDTH} {height:.0f}" role="img" aria-label="{_attr(title)}" '
           f'font-family="sans-serif" font-size="{FONT}">',
           f'<rect x="0" y="0" width="{WIDTH}" height="{height:.0f}" fill="#ffffff"/>',
           *_head(title, any(line.failures for line in lines))]
    if not lines:
        out.append(f'<text x="{WIDTH / 2}" y="{HEAD + 30}" text-anchor="middle" '
                   'fill="#555">no restart samples in this run</text>')
        return "\n".join([*out, "</svg>"])
    scale = _scale(lines)
    for panel in panels:
        out += _panel(panel, scale)
    return "\n".join([*out, "</svg>"])


def series_lines(document: dict) -> list[Line]:
    """One :class:`Line` per restart series of an outcomes document, by profile (in the
    story's order) and version."""
    entries = document.get("restart_series", [])
    budgets = {c.get("name"): c.get("probe_budget") for c in document.get("clusters", [])}
    profiles = profiles_in([str(e.get("profile") or e["cluster"]) for e in entries])
    entries = sorted(entries, key=lambda e: (profiles.index(str(e.get("profile") or e["cluster"])),
                                             version_key(str(e.get("version")))))
    seen = Counter((e.get("profile") or e["cluster"], e.get("version")) for e in entries)
    lines = []
    for entry in entries:
        profile = entry.get("profile") or entry["cluster"]
        version = entry.get("version") or "?"
        budget = budgets.get(entry["cluster"])
        # two clusters of one profile and version (merged runs): the run token tells them apart
        lane = (f"{version} {entry['cluster'].rsplit('-', 1)[-1]}"
                if seen[(profile, entry.get("version"))] > 1 else version)
        lines.append(Line(f"{profile} ({lane})",
                          [Sample.from_dict(s) for s in entry.get("samples", [])],
                          profile, lane, list(entry.get("probe_failures") or []),
                          float(budget) if budget else None, entry.get("shape") or "",
                          entry.get("summary") or ""))
    return lines


def write(document: dict, run_dir: Path) -> Path:
    """Write ``restarts.svg`` into ``run_dir``."""
    path = run_dir / FILENAME
    path.write_text(render(series_lines(document)) + "\n")
    return path
