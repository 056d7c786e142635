"""Fetch the merged report of the last successful nightly run, for the night-to-night diff.

Asks GitHub first whether such a night exists: the newest successful run of the workflow on
the branch (other than this one) that still holds the artifact. None: says "no previous
night" and why, and the diff step says so too. One found: downloads its artifact, and a
download that fails (or leaves no outcomes.json) fails the step; a comparison is never
skipped without saying so.

Writes ``found`` (true/false), ``run`` and ``why`` to ``$GITHUB_OUTPUT`` for the steps after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

Gh = Callable[[Sequence[str]], str]  # runs `gh ARGS`, returns its output; raises on failure


class GhError(Exception):
    """A gh command that failed, with its message."""


@dataclass(frozen=True)
class Choice:
    run: int | None  # the run whose artifact to compare with; None: no previous night
    why: str


def choose(runs: Sequence[dict], artifacts: Sequence[dict], this_run: int,
           artifact: str) -> Choice:
    """The newest of ``runs`` (successful runs of the workflow on the branch, as ``gh run
    list --json databaseId,createdAt`` gives them) other than ``this_run`` that holds an
    unexpired artifact named ``artifact`` (``artifacts`` as the artifacts API lists them)."""
    held = {a["workflow_run"]["id"] for a in artifacts
            if a.get("name") == artifact and not a.get("expired")
            and a.get("workflow_run", {}).get("id") is not None}
    newest_first = sorted(runs, key=lambda r: r.get("createdAt", ""), reverse=True)
    earlier = [r["databaseId"] for r in newest_first if r["databaseId"] != this_run]
    for run in earlier:
        if run in held:
            return Choice(run, f"run {run}, the last successful night holding {artifact}")
    if not earlier:
        return Choice(None, "no earlier successful night on this branch")
    return Choice(None, f"none of the {len(earlier)} earlier successful nights on this branch "
                        f"still holds the {artifact} artifact (expired or never uploaded)")


def gh_cli(args: Sequence[str]) -> str:
    done = subprocess.run(["gh", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise GhError(f"gh {' '.join(args)}: {(done.stderr or done.stdout).strip()}")
    return done.stdout


def fetch(gh: Gh, *, repo: str, workflow: str, branch: str, this_run: int, artifact: str,
          into: Path) -> Choice:
    """Ask for the last night, and download its artifact into ``into`` when there is one."""
    runs = json.loads(gh(["run", "list", "--repo", repo, "--workflow", workflow, "--branch",
                          branch, "--status", "success", "--limit", "30", "--json",
                          "databaseId,createdAt"]))
    listed = json.loads(gh(["api", f"repos/{repo}/actions/artifacts?name={artifact}"
                                   "&per_page=100"]))
    choice = choose(runs, listed.get("artifacts", []), this_run, artifact)
    if choice.run is not None:
        gh(["run", "download", str(choice.run), "--repo", repo, "--name", artifact,
            "--dir", str(into)])
        if not (into / "outcomes.json").is_file():
            raise GhError(f"the {artifact} artifact of run {choice.run} holds no outcomes.json")
    return choice


def main(argv: Sequence[str] | None = None, gh: Gh = gh_cli) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=os.environ.get("GITHUB_REPOSITORY"),
                        help="owner/name (default: $GITHUB_REPOSITORY)")
    parser.add_argument("--workflow", required=True)
    parser.add_argument("--branch", required=True)
    parser.add_argument("--this-run", type=int, required=True)
    parser.add_argument("--artifact", required=True)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args(argv)
    if not args.repo:
        print("last night: no repository: pass --repo owner/name or set GITHUB_REPOSITORY",
              file=sys.stderr)
        return 2
    try:
        choice = fetch(gh, repo=args.repo, workflow=args.workflow, branch=args.branch,
                       this_run=args.this_run, artifact=args.artifact, into=args.dir)
    except (GhError, ValueError, KeyError, TypeError, OSError) as err:
        print(f"last night: cannot fetch the previous night's report, so tonight cannot be "
              f"compared: {err}", file=sys.stderr)
        return 1
    print(f"last night: {choice.why}" if choice.run is not None
          else f"last night: no previous night: {choice.why}")
    output = os.environ.get("GITHUB_OUTPUT")
    if output:
        with open(output, "a") as out:
            out.write(f"found={'true' if choice.run is not None else 'false'}\n"
                      f"run={choice.run or ''}\nwhy={choice.why}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
