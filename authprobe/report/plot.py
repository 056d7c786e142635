"""``restarts.svg``: kube-apiserver restart count over time, one line per profile and version.

Plain SVG text, so the HTML report can inline it and any browser shows it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape
from pathlib import Path

from ..series import Sample
from .outcomes import version_key

FILENAME = "restarts.svg"

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
COLOURS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
           "#F0E442")
DASHES = ("", "6 3", "2 3", "8 3 2 3")

WIDTH, HEIGHT = 880, 380
LEFT, RIGHT, TOP, BOTTOM = 64, 250, 40, 56


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


def render(lines: Sequence[tuple], title: str = "") -> str:
    """SVG text for ``lines``: (label, samples) or (label, samples, group, variant) tuples.

    t in seconds on x, restarts on y. Lines of one group (a profile) share a colour; the
    variant (a version) picks the dash pattern.
    """
    title = title or "kube-apiserver restarts over time"
    lines = [_style_key(line) for line in lines if line[1]]
    groups = list(dict.fromkeys(line[2] for line in lines))
    variants = list(dict.fromkeys(line[3] for line in lines))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" '
        'font-family="sans-serif" font-size="12">',
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>',
        f'<text x="{LEFT}" y="22" font-size="15" font-weight="bold">{escape(title)}</text>',
    ]
    if not lines:
        out.append(f'<text x="{LEFT + plot_w / 2}" y="{TOP + plot_h / 2}" text-anchor="middle" '
                   'fill="#555">no restart samples in this run</text>')
        out.append("</svg>")
        return "\n".join(out)

    max_t = max(s.t for line in lines for s in line[1])
    max_r = max(s.restarts for line in lines for s in line[1])
    x_ticks = ticks(max(max_t, 10.0))
    y_ticks = ticks(max(max_r, 1), integer=True)
    x_max, y_max = x_ticks[-1], y_ticks[-1]

    def px(t: float) -> float:
        return LEFT + plot_w * (max(t, 0.0) / x_max)

    def py(r: float) -> float:
        return TOP + plot_h - plot_h * (r / y_max)

    # grid and ticks
    for value in y_ticks:
        y = py(value)
        out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" '
                   'stroke="#e3e3e3"/>')
        out.append(f'<line x1="{LEFT - 5}" y1="{y:.1f}" x2="{LEFT}" y2="{y:.1f}" stroke="#333"/>')
        out.append(f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end">{_fmt(value)}</text>')
    for value in x_ticks:
        x = px(value)
        out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" '
                   'stroke="#f0f0f0"/>')
        out.append(f'<line x1="{x:.1f}" y1="{TOP + plot_h}" x2="{x:.1f}" '
                   f'y2="{TOP + plot_h + 5}" stroke="#333"/>')
        out.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 19}" text-anchor="middle">'
                   f'{_fmt(value)}</text>')
    # axes and labels
    out.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" '
               'stroke="#333"/>')
    out.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#333"/>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 12}" text-anchor="middle">'
               'seconds since kube-apiserver started</text>')
    out.append(f'<text x="18" y="{TOP + plot_h / 2}" text-anchor="middle" '
               f'transform="rotate(-90 18 {TOP + plot_h / 2})">restart count</text>')

    # one step line per series; filled markers where the apiserver was Ready
    legend_x = LEFT + plot_w + 24
    for index, (label, samples, group, variant) in enumerate(lines):
        colour = COLOURS[groups.index(group) % len(COLOURS)]
        dash = DASHES[variants.index(variant) % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        # a small vertical offset keeps overlapping flat lines apart
        nudge = (index - (len(lines) - 1) / 2) * 1.5
        points = []
        for i, sample in enumerate(samples):
            x, y = px(sample.t), py(sample.restarts) + nudge
            if i and samples[i - 1].restarts != sample.restarts:
                points.append(f"{x:.1f},{py(samples[i - 1].restarts) + nudge:.1f}")
            points.append(f"{x:.1f},{y:.1f}")
        out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash_attr} '
                   f'points="{" ".join(points)}"><title>{escape(label)}</title></polyline>')
        for sample in samples:
            fill = colour if sample.ready else "#ffffff"
            tip = (f"{label}: t={sample.t:.0f}s restarts={sample.restarts} "
                   f"ready={'yes' if sample.ready else 'no'} source={sample.source}"
                   + (f" last={sample.last_reason}" if sample.last_reason else ""))
            out.append(f'<circle cx="{px(sample.t):.1f}" cy="{py(sample.restarts) + nudge:.1f}" '
                       f'r="2.6" fill="{fill}" stroke="{colour}" stroke-width="1.2">'
                       f'<title>{escape(tip)}</title></circle>')
        ly = TOP + 8 + index * 20
        out.append(f'<line x1="{legend_x}" y1="{ly}" x2="{legend_x + 26}" y2="{ly}" '
                   f'stroke="{colour}" stroke-width="2.5"{dash_attr}/>')
        out.append(f'<text x="{legend_x + 32}" y="{ly + 4}">{escape(label)}</text>')
    note_y = TOP + 8 + len(lines) * 20 + 10
    out.append(f'<circle cx="{legend_x + 13}" cy="{note_y}" r="3" fill="#555" stroke="#555"/>')
    out.append(f'<text x="{legend_x + 32}" y="{note_y + 4}" fill="#555">Ready</text>')
    out.append(f'<circle cx="{legend_x + 13}" cy="{note_y + 18}" r="3" fill="#fff" '
               'stroke="#555"/>')
    out.append(f'<text x="{legend_x + 32}" y="{note_y + 22}" fill="#555">not Ready</text>')
    out.append("</svg>")
    return "\n".join(out)


def _style_key(line: tuple) -> tuple[str, list[Sample], str, str]:
    label, samples = line[0], list(line[1])
    group = line[2] if len(line) > 2 else label
    variant = line[3] if len(line) > 3 else ""
    return label, samples, group, variant


def series_lines(document: dict) -> list[tuple[str, list[Sample], str, str]]:
    """(label, samples, profile, version) per cluster of an outcomes document."""
    entries = sorted(document.get("restart_series", []),
                     key=lambda e: (str(e.get("profile")), version_key(str(e.get("version")))))
    lines = []
    for entry in entries:
        profile = entry.get("profile") or entry["cluster"]
        version = entry.get("version") or "?"
        samples = [Sample.from_dict(s) for s in entry.get("samples", [])]
        lines.append((f"{profile} ({version})", samples, profile, version))
    return lines


def write(document: dict, run_dir: Path) -> Path:
    path = run_dir / FILENAME
    path.write_text(render(series_lines(document)) + "\n")
    return path
