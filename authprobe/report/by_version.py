"""One version's part of a report: the cells of a run over several minors taken as a run of
their own, so two versions of one sweep compare like two runs."""

from __future__ import annotations

from dataclasses import replace

from .document import Outcomes


def of_version(outcomes: Outcomes, version: str) -> Outcomes:
    """The cells of one version of a run, as a run of its own."""
    data = dict(outcomes.data, run={**outcomes.run,
                                    "id": f"{outcomes.run.get('id', '?')} {version}"})
    return replace(outcomes, data=data,
                   cells=[c for c in outcomes.cells if c.version == version])
