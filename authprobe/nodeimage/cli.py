"""``authprobe build-image``: build (or reuse) the offline kind node image for a version."""

from __future__ import annotations

import argparse

from ..progress import say
from ..versions import default_version, resolve


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--k8s-version", default=default_version(),
        help="Kubernetes minor (1.34) or pinned patch (1.34.12); default %(default)s",
    )
    parser.add_argument(
        "--force", action="store_true", help="rebuild even if an image with these inputs exists"
    )
    parser.add_argument(
        "--prune", action="store_true",
        help="afterwards remove older builds of this version that no container uses",
    )
    parser.add_argument(
        "--print-tag", action="store_true",
        help="print only the tag the inputs give, build nothing",
    )


def run(args: argparse.Namespace) -> int:
    supported = resolve(args.k8s_version)
    if args.print_tag:
        from .build import plan

        print(plan(supported).tag)
        return 0
    from . import ensure_node_image

    tag = ensure_node_image(supported, force=args.force)
    say(f"node image ready: {tag}")
    if args.prune:
        from .build import prune_node_images

        for removed in prune_node_images(supported.version, [tag]):
            say(f"removed unused node image {removed}")
    print(tag)
    return 0
