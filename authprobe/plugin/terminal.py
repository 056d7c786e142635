"""Progress lines inside pytest: written past output capture and flushed at once, so they
show as they happen in a terminal, a pipe or a CI log. Lines said in other threads wait in
a queue until the main thread delivers them; every wait of the harness delivers them."""

from __future__ import annotations

import collections
import sys
import threading

import pytest

from .. import progress


def install(config: pytest.Config) -> None:
    pending: collections.deque[str] = collections.deque()
    main = threading.main_thread()

    def write(line: str) -> None:
        terminal = config.pluginmanager.get_plugin("terminalreporter")
        capman = config.pluginmanager.get_plugin("capturemanager")
        if terminal is None:
            print(line, file=sys.stderr, flush=True)
            return
        if capman is not None:
            with capman.global_and_fixture_disabled():
                terminal.write_line(line)
                terminal.flush()
        else:
            terminal.write_line(line)
            terminal.flush()

    def pump() -> None:
        if threading.current_thread() is not main:
            return
        while True:
            try:
                line = pending.popleft()
            except IndexError:
                return
            write(line)

    def sink(line: str) -> None:
        pending.append(line)
        pump()

    progress.set_sink(sink, pump)


def uninstall() -> None:
    progress.pump()
    progress.set_sink(None)
