"""Reports of a run: ``<reports root>/<run-id>/`` with ``outcomes.json`` (the data every
other file is rendered from), ``junit.xml``, ``matrix.md``, ``matrix.html``,
``restarts.csv`` and ``restarts.svg``; ``latest`` points at the newest run.

``register_secret(value)`` makes sure a credential never appears in any report file.
"""

from __future__ import annotations

from .scrub import register_secret

__all__ = ["register_secret"]
