"""Short texts for cells: one line of what a scenario observed."""

from __future__ import annotations

import json

MESSAGE_CHARS = 160
# The apiserver's own message, within a cell's message: cut shorter, so that what follows it
# (the status after binding, who the audit log saw) still fits.
PART_CHARS = 90
# Observed fields that make up a cell's short message, in this order.
MESSAGE_FIELDS = ("status", "message", "status_after", "up", "exit_code", "log_tail",
                  "restart_shape", "restart_cause", "audit_user")


def one_line(text: str, limit: int = MESSAGE_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value(name: str, value) -> str | None:
    if name == "up":
        return "comes up" if value else "does not come up"
    if name == "status_after":
        return f"after binding {value}"
    if name == "exit_code":
        return f"exit {value}"
    if name == "log_tail":
        lines = value if isinstance(value, list) else str(value).splitlines()
        return f"({str(lines[-1]).strip()})" if lines else None
    if name == "restart_shape":
        return f"restarts {value}"
    if name == "restart_cause":
        return f"cause {value}"
    if name == "audit_user":
        return f"audited as {value}"
    if name == "message":
        return one_line(value, PART_CHARS)
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def observed_summary(observed: dict) -> str:
    parts = []
    for name in MESSAGE_FIELDS:
        if name in observed and observed[name] not in (None, ""):
            text = _value(name, observed[name])
            if text:
                parts.append(text)
    if "audit_user" in observed and observed["audit_user"] is None and "status" in observed:
        parts.append("audited with no user")
    return " ".join(parts)
