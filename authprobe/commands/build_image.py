"""``authprobe build-image``: build (or reuse) the offline kind node image for a version,
and with ``--upgrade-to`` the image that can upgrade it in place to the next minor."""

from __future__ import annotations

import argparse

from ..host.engine import ensure_engine
from ..model.versions import default_minor, resolve, version_table
from ..progress import say

HELP = "build a kind node image offline from Go modules and Debian packages"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--k8s-version", default=None, metavar="VERSION",
                        help="Kubernetes minor (1.34) or its pinned patch (1.34.12); default "
                             "the default minor of clusters/versions.yaml")
    parser.add_argument("--force", action="store_true",
                        help="rebuild even if an image with these inputs exists")
    parser.add_argument("--prune", action="store_true",
                        help="afterwards remove older builds of this version no container uses")
    parser.add_argument("--print-tag", action="store_true",
                        help="print only the tag the inputs give, build nothing")
    parser.add_argument("--upgrade-to", default=None, metavar="MINOR",
                        help="also lay the next minor's kubeadm, kubelet, kubectl and images "
                             "into the image, for --upgrade-to runs (built offline too)")


def run(args: argparse.Namespace) -> int:
    supported = resolve(args.k8s_version or default_minor())
    from ..nodeimage import build

    target = (version_table().upgrade_pair(supported.minor, args.upgrade_to)[1]
              if args.upgrade_to else None)
    if args.print_tag:
        print(build.plan(supported).tag)
        return 0
    ensure_engine()
    tag = build.ensure_node_image(supported, force=args.force)
    say(f"node image ready: {tag}")
    if args.prune:
        for removed in build.prune_node_images(supported.patch, [tag]):
            say(f"removed unused node image {removed}")
    if target is not None:
        from ..harness import images

        choice = images.ImageChoice(supported.minor, "build", tag, supported.patch, "built")
        tag = images.prepare_upgrade(images.read_facts(tag), choice, target, "build").ref
        say(f"upgrade image ready: {tag}")
    print(tag)
    return 0
