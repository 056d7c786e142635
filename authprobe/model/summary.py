"""Short texts for cells: one line of what a scenario observed."""

from __future__ import annotations

from .observations import Declarations, shipped

MESSAGE_CHARS = 160


def one_line(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def observed_summary(observed: dict, declarations: Declarations | None = None) -> str:
    """What a cell observed, in the declared order and wording (scenarios/observations.yaml)."""
    parts = []
    for item in declarations or shipped():
        if item.name in observed:
            text = item.reads(observed[item.name])
            if text:
                parts.append(text)
    return " ".join(parts)
