"""``authprobe merge --output DIR REPORT...``: one report from several runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import AuthprobeError
from ..report.document import load
from ..report.merge import merge
from ..report.writer import write_all

HELP = "merge report folders of several runs into one report"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("reports", nargs="+", metavar="REPORT",
                        help="report folders (or outcomes.json files) to merge")
    parser.add_argument("--output", "-o", required=True, metavar="DIR",
                        help="folder to write the merged report into (created if missing)")


def run(args: argparse.Namespace) -> int:
    inputs = [load(where) for where in args.reports]
    output = Path(args.output)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise AuthprobeError(f"cannot create {output}: {err.strerror}") from None
    document = merge(inputs, output)
    write_all(document, output)
    print(f"merged {len(inputs)} report(s), {len(document['cells'])} cells, Kubernetes "
          f"{', '.join(document['run']['versions']) or 'none'}: {output / 'matrix.html'}")
    return 0
