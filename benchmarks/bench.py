"""authprobe benchmark: prints three figures measured in one run on this machine.

(a) the whole matrix for one Kubernetes version (every profile, clusters created in
    parallel) divided by the slowest single profile run alone          target <= 1.30
(b) cluster creation through the harness (create, verify, readiness) divided by a bare
    `kind create cluster` with the same config and image              target <= 1.10
(c) peak memory of one idle cluster (node container cgroup)             target <= 1 GiB

Every run goes through `pytest scenarios` as a user runs it; timings come from the wall
clock and from the cluster phases recorded in each run's outcomes.json.

    python benchmarks/bench.py [--k8s-version 1.34] [--image-policy build] [--idle 60]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import tenacity

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from authprobe import profiles  # noqa: E402
from authprobe.provider import private_dir  # noqa: E402
from authprobe.tools import ensure_kind  # noqa: E402

BARE_NAME = "authprobe-bench-bare"
HARNESS_PHASES = ("create", "verify", "ready")
GIB = 1024**3


def say(text: str) -> None:
    print(f"[bench] {text}", flush=True)


def run_scenarios(args, reports: Path, profile: str | None, extra: list[str] = ()) -> dict:
    """One `pytest scenarios` run; returns its wall time and outcomes.json."""
    argv = [sys.executable, "-m", "pytest", "scenarios", "-q", "-p", "no:cacheprovider",
            "--k8s-version", args.k8s_version, "--image-policy", args.image_policy,
            "--reports-dir", str(reports), *extra]
    if profile:
        argv += ["--profile", profile]
    label = profile or "all profiles"
    say(f"pytest scenarios ({label}) ...")
    start = time.monotonic()
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    wall = time.monotonic() - start
    tail = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
    say(f"pytest scenarios ({label}): {wall:.0f}s, exit {result.returncode}: {tail}")
    outcomes = json.loads((reports / "latest" / "outcomes.json").read_text())
    return {"wall": wall, "exit": result.returncode, "outcomes": outcomes}


def harness_creation_seconds(outcomes: dict) -> tuple[float, str, str]:
    """Seconds of create + verify + ready of the run's one cluster, with its name and image."""
    rows = [p for p in outcomes["phases"] if p["phase"] in HARNESS_PHASES]
    if not rows or any(p["outcome"] != "passed" for p in rows):
        raise SystemExit(f"the harness run did not bring its cluster up: {rows}")
    return sum(p["seconds"] for p in rows), rows[0]["cluster"], rows[0]["node_image"]


def kind(kind_bin: Path, *argv: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(kind_bin), *argv], capture_output=True, text=True,
                          timeout=timeout)


def node_exec(*argv: str) -> str:
    return subprocess.run(["docker", "exec", f"{BARE_NAME}-control-plane", *argv],
                          capture_output=True, text=True, timeout=60).stdout


def wait_all_pods_running(deadline: float) -> None:
    def running() -> bool:
        out = node_exec("kubectl", "--kubeconfig=/etc/kubernetes/admin.conf", "get", "pods",
                        "-A", "--no-headers")
        lines = [line for line in out.splitlines() if line.strip()]
        return bool(lines) and all(" Running " in f" {line} " for line in lines)

    tenacity.Retrying(retry=tenacity.retry_if_result(lambda ok: not ok),
                      stop=tenacity.stop_after_delay(deadline), wait=tenacity.wait_fixed(2),
                      reraise=True)(running)


def container_memory(container: str) -> tuple[int, int]:
    """(current, peak) memory bytes of a container from its cgroup (v1 or v2)."""
    cid = subprocess.run(["docker", "inspect", "-f", "{{.Id}}", container],
                         capture_output=True, text=True, check=True).stdout.strip()
    candidates = [
        (Path("/sys/fs/cgroup/memory/docker") / cid, "memory.usage_in_bytes",
         "memory.max_usage_in_bytes"),
        (Path("/sys/fs/cgroup/system.slice") / f"docker-{cid}.scope", "memory.current",
         "memory.peak"),
        (Path("/sys/fs/cgroup/docker") / cid, "memory.current", "memory.peak"),
    ]
    for base, current, peak in candidates:
        if (base / current).exists():
            peak_file = base / peak
            now = int((base / current).read_text())
            return now, int(peak_file.read_text()) if peak_file.exists() else now
    raise SystemExit(f"no memory cgroup found for container {container}")


def bare_kind(args, config: Path, image: str, kind_bin: Path) -> tuple[float, int, int]:
    """Seconds of a bare `kind create cluster`, then current and peak memory when idle."""
    kind(kind_bin, "delete", "cluster", f"--name={BARE_NAME}")
    say(f"bare `kind create cluster` with {config.name} and {image} ...")
    start = time.monotonic()
    created = kind(kind_bin, "create", "cluster", f"--name={BARE_NAME}", f"--image={image}",
                   "--config", str(config), "--kubeconfig", os.devnull)
    seconds = time.monotonic() - start
    if created.returncode:
        raise SystemExit(f"bare kind create failed: {created.stderr.strip()[-400:]}")
    say(f"bare `kind create cluster`: {seconds:.1f}s")
    try:
        wait_all_pods_running(300)
        say(f"cluster idle: sampling memory for {args.idle}s ...")
        samples = []
        end = time.monotonic() + args.idle
        while True:
            samples.append(container_memory(f"{BARE_NAME}-control-plane"))
            if time.monotonic() >= end:
                break
            time.sleep(min(5, max(0.0, end - time.monotonic())))  # sampling interval
        current = max(s[0] for s in samples)
        peak = max(s[1] for s in samples)
        return seconds, current, peak
    finally:
        kind(kind_bin, "delete", "cluster", f"--name={BARE_NAME}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k8s-version", default="1.34")
    parser.add_argument("--image-policy", default=os.environ.get("AUTHPROBE_IMAGE_POLICY",
                                                                   "build"))
    parser.add_argument("--idle", type=int, default=60, help="seconds of idle memory sampling")
    args = parser.parse_args()
    all_profiles = sorted(profiles.load_all())
    kind_bin = ensure_kind()
    with tempfile.TemporaryDirectory(prefix="authprobe-bench-") as tmp:
        tmp = Path(tmp)
        # (b) and (c): one profile through the harness, kept, then the same config bare.
        kept = run_scenarios(args, tmp / "harness", "anon-on",
                             ["--keep-cluster", "-k", "control_plane_comes_up"])
        harness_seconds, name, image = harness_creation_seconds(kept["outcomes"])
        config = private_dir(name) / "kind-config.yaml"
        kind(kind_bin, "delete", "cluster", f"--name={name}")
        try:
            bare_seconds, idle_now, idle_peak = bare_kind(args, config, image, kind_bin)
        finally:
            subprocess.run([sys.executable, "-m", "authprobe.cli", "clusters", "prune", name],
                           cwd=ROOT, capture_output=True)
        # (a): the whole matrix, then every profile alone.
        matrix = run_scenarios(args, tmp / "matrix", None)
        alone = {p: run_scenarios(args, tmp / f"alone-{p}", p) for p in all_profiles}
    slowest = max(alone, key=lambda p: alone[p]["wall"])
    ratio_a = matrix["wall"] / alone[slowest]["wall"]
    ratio_b = harness_seconds / bare_seconds
    print()
    print(f"machine: {platform.node()} {os.cpu_count()} cores, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / GIB:.0f} GiB, "
          f"{platform.platform()}")
    print(f"Kubernetes {args.k8s_version}, image policy {args.image_policy}, node image {image}")
    print(f"(a) matrix {matrix['wall']:.0f}s / slowest alone ({slowest}) "
          f"{alone[slowest]['wall']:.0f}s = {ratio_a:.2f}   (target <= 1.30)")
    print("    alone: " + ", ".join(f"{p} {alone[p]['wall']:.0f}s" for p in all_profiles))
    print(f"(b) harness create+verify+ready {harness_seconds:.1f}s / bare kind create "
          f"{bare_seconds:.1f}s = {ratio_b:.2f}   (target <= 1.10)")
    print(f"(c) idle cluster memory: peak {idle_peak / GIB:.2f} GiB "
          f"({idle_peak / 1024**2:.0f} MiB), current {idle_now / 1024**2:.0f} MiB "
          f"over {args.idle}s idle   (target <= 1 GiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
