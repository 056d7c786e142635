"""``restarts.svg``: kube-apiserver restart count over time, one line per cluster.

A line's colour is its profile, its dash pattern its Kubernetes version. Below the time
axis, one lane per cluster marks the moments the kubelet logged a failed probe of that
cluster's apiserver. Plain SVG text, so the HTML report can inline it and any browser
shows it; every text in it is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

from ..model.series import Sample
from ..model.versions import version_key

FILENAME = "restarts.svg"

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#F0E442")
DASHES = ("", "6 3", "2 3", "8 3 2 3")

WIDTH, HEIGHT = 880, 380
LEFT, RIGHT, TOP, BOTTOM = 64, 250, 40, 56
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
AXIS_Y = TOP + PLOT_H
LANE = 9  # height of one cluster's lane of probe-failure markers below the axis


@dataclass
class Line:
    """One cluster's restart series and the kubelet's probe failures on it."""

    label: str
    samples: list[Sample]
    group: str = ""  # the profile: picks the colour
    variant: str = ""  # the Kubernetes version: picks the dash pattern
    failures: list[dict] = field(default_factory=list)  # {t, probe, status, output}
    colour: str = ""
    dash: str = ""


@dataclass(frozen=True)
class Frame:
    """Where data lands on the canvas: seconds on x, restarts on y."""

    x_ticks: tuple[float, ...]
    y_ticks: tuple[float, ...]
    lanes: int

    @property
    def x_max(self) -> float:
        return self.x_ticks[-1]

    @property
    def y_max(self) -> float:
        return self.y_ticks[-1]

    def x(self, t: float) -> float:
        return LEFT + PLOT_W * (max(t, 0.0) / self.x_max)

    def y(self, restarts: float) -> float:
        return AXIS_Y - PLOT_H * (restarts / self.y_max)

    @property
    def strip(self) -> float:
        """Height of the probe-failure lanes under the axis."""
        return self.lanes * LANE + 4 if self.lanes else 0

    @property
    def height(self) -> float:
        return HEIGHT + self.strip


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


def ticks(upper: float, integer: bool = False) -> list[float]:
    step = nice_step(upper, integer=integer)
    count = int(math.ceil(upper / step - 1e-9))
    return [i * step for i in range(count + 1)]


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:g}"


def _attr(text: str) -> str:
    return escape(str(text), quote=True)


def _style(lines: list[Line]) -> None:
    groups = list(dict.fromkeys(line.group for line in lines))
    variants = list(dict.fromkeys(line.variant for line in lines))
    for line in lines:
        line.colour = COLOURS[groups.index(line.group) % len(COLOURS)]
        line.dash = DASHES[variants.index(line.variant) % len(DASHES)]


def _dash_attr(line: Line) -> str:
    return f' stroke-dasharray="{line.dash}"' if line.dash else ""


def _frame(lines: list[Line]) -> Frame:
    times = [s.t for line in lines for s in line.samples]
    times += [float(f.get("t", 0.0)) for line in lines for f in line.failures]
    restarts = [s.restarts for line in lines for s in line.samples] or [0]
    return Frame(tuple(ticks(max(max(times, default=0.0), 10.0))),
                 tuple(ticks(max(max(restarts), 1), integer=True)),
                 sum(1 for line in lines if line.failures))


def _axes(frame: Frame) -> list[str]:
    """Grid, ticks, axis lines and axis titles."""
    out = []
    for value in frame.y_ticks:
        y = frame.y(value)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + PLOT_W}" y2="{y:.1f}" '
                   'stroke="#e3e3e3"/>')
        out.append(f'<line x1="{LEFT - 5}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" stroke="#333"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{_fmt(value)}</text>')
    below = AXIS_Y + frame.strip
    for value in frame.x_ticks:
        x = frame.x(value)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{AXIS_Y}" stroke="#f0f0f0"/>')
        out.append(f'<line x1="{x:.1f}" y1="{below:.1f}" x2="{x:.1f}" y2="{below + 5:.1f}" '
                   'stroke="#333"/>')
        out.append(f'<text x="{x:.1f}" y="{below + 19:.1f}" text-anchor="middle">'
                   f'{_fmt(value)}</text>')
    out.append(f'<line x1="{LEFT}" y1="{AXIS_Y}" x2="{LEFT + PLOT_W}" y2="{AXIS_Y}" '
               'stroke="#333"/>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{AXIS_Y}" stroke="#333"/>')
    out.append(f'<text x="{LEFT + PLOT_W / 2}" y="{frame.height - 12:.1f}" '
               'text-anchor="middle">seconds since kube-apiserver started</text>')
    out.append(f'<text x="18" y="{TOP + PLOT_H / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {TOP + PLOT_H / 2})">restart count</text>')
    return out


def _series(line: Line, frame: Frame, nudge: float) -> list[str]:
    """A step path of the restart count, with filled markers where the apiserver was Ready."""
    if not line.samples:
        return []
    steps = []
    for i, sample in enumerate(line.samples):
        x = frame.x(sample.t)
        if i and line.samples[i - 1].restarts != sample.restarts:
            steps.append(f"{x:.1f},{frame.y(line.samples[i - 1].restarts) + nudge:.1f}")
        steps.append(f"{x:.1f},{frame.y(sample.restarts) + nudge:.1f}")
    out = [f'<path class="series" fill="none" stroke="{line.colour}" stroke-width="2"'
           f'{_dash_attr(line)} d="M{" L".join(steps)}"><title>{_attr(line.label)}</title></path>']
    for sample in line.samples:
        fill = line.colour if sample.ready else "#ffffff"
        tip = (f"{line.label}: t={sample.t:.0f}s restarts={sample.restarts} "
               f"ready={'yes' if sample.ready else 'no'} source={sample.source}"
               + (f" last={sample.last_reason}" if sample.last_reason else ""))
        cx, cy = frame.x(sample.t), frame.y(sample.restarts) + nudge
        out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="2.6" fill="{fill}" '
                   f'stroke="{line.colour}" stroke-width="1.2">'
                   f'<title>{_attr(tip)}</title></circle>')
    return out


def _marker(x: float, top: float, colour: str, tip: str, css: str = "probe-failure") -> str:
    """A small triangle pointing up at the time axis."""
    points = f"{x:.1f},{top:.1f} {x - 3.5:.1f},{top + 6:.1f} {x + 3.5:.1f},{top + 6:.1f}"
    return (f'<polygon class="{css}" points="{points}" fill="{colour}" '
            f'stroke="{colour}"><title>{_attr(tip)}</title></polygon>')


def _failures(line: Line, frame: Frame, lane: int) -> list[str]:
    """One lane under the axis: a faint line in the series' style and a marker per failure."""
    top = AXIS_Y + 3 + lane * LANE
    out = [f'<line class="probe-lane" x1="{LEFT}" y1="{top + 6:.1f}" x2="{LEFT + PLOT_W}" '
           f'y2="{top + 6:.1f}" stroke="{line.colour}" stroke-opacity="0.35"{_dash_attr(line)}>'
           f'<title>{_attr(line.label)}: kubelet probe failures</title></line>']
    for failure in line.failures:
        t = float(failure.get("t", 0.0))
        status = failure.get("status")
        tip = (f"{line.label}: {failure.get('probe') or 'probe'} probe failed at t={t:.0f}s"
               + (f" (HTTP {status})" if status is not None else "")
               + (f": {failure['output']}" if failure.get("output") else ""))
        out.append(_marker(frame.x(t), top, line.colour, tip))
    return out


def _legend(lines: list[Line]) -> list[str]:
    x = LEFT + PLOT_W + 24
    out = []
    for index, line in enumerate(lines):
        y = TOP + 8 + index * 20
        out.append(f'<line x1="{x}" y1="{y}" x2="{x + 26}" y2="{y}" stroke="{line.colour}" '
                   f'stroke-width="2.5"{_dash_attr(line)}/>')
        out.append(f'<text x="{x + 32}" y="{y + 4}">{_attr(line.label)}</text>')
    y = TOP + 8 + len(lines) * 20 + 10
    out.append(f'<circle cx="{x + 13}" cy="{y}" r="3" fill="#555" stroke="#555"/>')
    out.append(f'<text x="{x + 32}" y="{y + 4}" fill="#555">Ready</text>')
    out.append(f'<circle cx="{x + 13}" cy="{y + 18}" r="3" fill="#fff" stroke="#555"/>')
    out.append(f'<text x="{x + 32}" y="{y + 22}" fill="#555">not Ready</text>')
    if any(line.failures for line in lines):
        out.append(_marker(x + 13, y + 31, "#555", "kubelet probe failure", "legend-marker"))
        out.append(f'<text x="{x + 32}" y="{y + 40}" fill="#555">kubelet probe failure</text>')
        out.append(f'<text x="{x + 32}" y="{y + 54}" fill="#555" font-size="11">'
                   '(in lanes under the axis)</text>')
    return out


def render(lines: Sequence[Line], title: str = "") -> str:
    """SVG text for ``lines``; a line needs samples or probe failures to be drawn."""
    title = title or "kube-apiserver restarts over time"
    lines = [line for line in lines if line.samples or line.failures]
    _style(lines)
    frame = _frame(lines)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{frame.height:.0f}" '
           f'viewBox="0 0 {WIDTH} {frame.height:.0f}" role="img" aria-label="{_attr(title)}" '
           'font-family="sans-serif" font-size="12">',
           f'<rect x="0" y="0" width="{WIDTH}" height="{frame.height:.0f}" fill="#ffffff"/>',
           f'<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{_attr(title)}</text>']
    if not lines:
        out.append(f'<text x="{LEFT + PLOT_W / 2}" y="{TOP + PLOT_H / 2}" text-anchor="middle" '
                   'fill="#555">no restart samples in this run</text>')
        return "\n".join([*out, "</svg>"])
    out += _axes(frame)
    for index, line in enumerate(lines):
        # a small vertical offset keeps overlapping flat lines apart
        out += _series(line, frame, (index - (len(lines) - 1) / 2) * 1.5)
    for lane, line in enumerate(line for line in lines if line.failures):
        out += _failures(line, frame, lane)
    out += _legend(lines)
    return "\n".join([*out, "</svg>"])


def series_lines(document: dict) -> list[Line]:
    """One :class:`Line` per restart series of an outcomes document, by profile and version."""
    entries = sorted(document.get("restart_series", []),
                     key=lambda e: (str(e.get("profile")), version_key(str(e.get("version")))))
    lines = []
    for entry in entries:
        profile = entry.get("profile") or entry["cluster"]
        version = entry.get("version") or "?"
        lines.append(Line(f"{profile} ({version})",
                          [Sample.from_dict(s) for s in entry.get("samples", [])],
                          profile, version, list(entry.get("probe_failures") or [])))
    return lines


def write(document: dict, run_dir: Path) -> Path:
    """Write ``restarts.svg`` into ``run_dir``."""
    path = run_dir / FILENAME
    path.write_text(render(series_lines(document)) + "\n")
    return path
