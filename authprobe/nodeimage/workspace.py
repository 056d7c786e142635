"""Where a node image build keeps its work: cached step outputs, logs, one build at a time."""

from __future__ import annotations

import fcntl
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import AuthprobeError
from ..progress import say, step
from . import hashing


class Workspace:
    """Finished step outputs under ``steps/<name>-<key>``, logs under ``logs``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def work(self, name: str) -> Path:
        return self.root / "work" / name

    def cached(self, label: str, name: str, key: object, build: Callable[[Path, Path], None],
               expect: float | None = None) -> Path:
        """Output folder of step ``name`` for ``key``, running ``build(out, log)`` if not done."""
        digest = hashing.digest(key)
        out = self.root / "steps" / f"{name}-{digest}"
        if (out / ".complete").exists():
            say(f"{label}: cached")
            return out
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir(parents=True)
        log = self.log(f"{name}-{digest}")
        log.write_text("")
        with step(label, expect=expect):
            build(out, log)
        (out / ".complete").write_text(digest + "\n")
        return out

    def has_step(self, name_prefix: str) -> bool:
        return any((self.root / "steps").glob(f"{name_prefix}*/.complete"))


@contextmanager
def build_lock(root: Path) -> Iterator[None]:
    """One node image build at a time per cache folder (other runs wait their turn)."""
    root.mkdir(parents=True, exist_ok=True)
    with (root / "build.lock").open("w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            with step("waiting for another node image build to finish"):
                fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def check_free_space(paths: list[Path], needed: int, what: str) -> None:
    for path in paths:
        probe = path
        while not probe.exists():
            probe = probe.parent
        free = shutil.disk_usage(probe).free
        if free < needed:
            raise AuthprobeError(
                f"not enough disk space for {what}: {free / 2**30:.1f} GiB free on the file "
                f"system of {path}, {needed / 2**30:.0f} GiB needed; free some space and retry")
