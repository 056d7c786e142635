"""Content hashes naming node images and cached build steps."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

HASH_LENGTH = 12


def digest(value: object) -> str:
    """A short stable hash of JSON-serialisable ``value``."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:HASH_LENGTH]


def files_digest(paths: list[Path], root: Path) -> dict[str, str]:
    """sha256 of each file, keyed by its path relative to ``root`` (order-independent)."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(paths)
    }


def image_inputs_hash(inputs: dict) -> str:
    """The hash in a node image tag: versions of every part, builder sources, kind version."""
    return digest(inputs)
