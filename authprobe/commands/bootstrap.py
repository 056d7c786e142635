"""``authprobe bootstrap``: the machine set-up as a step of its own (the scenarios do the
same when they need it): a Docker engine that runs privileged containers, and kind."""

from __future__ import annotations

import argparse

from ..host.engine import ensure_engine
from ..host.tools import ensure_kind
from ..progress import say

HELP = "find or install and start a Docker engine, and build the pinned kind"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-kind", action="store_true",
                        help="do not build or check the pinned kind binary")


def run(args: argparse.Namespace) -> int:
    ensure_engine()
    say("Docker engine ready")
    if not args.no_kind:
        say(f"kind ready: {ensure_kind()}")
    return 0
