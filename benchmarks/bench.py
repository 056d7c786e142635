"""authprobe benchmark: prints figures measured on this machine, each against its target.

(a) the main job of one minor (every profile, clusters in parallel) divided by the
    slowest single profile run alone                                    target <= 1.30
(b) the harness's create + verify + connect + ready divided by a bare `kind create
    cluster` with the same config and image followed by the same readiness checks,
    median of --repeat runs each                                        target <= 1.10
(c) peak memory of one idle cluster (node container cgroup)             target <= 1 GiB
    and the CPU it takes while idle (cores, from the same cgroup)
(d) what the audit log costs: cluster bring-up and the main job's wall time with the
    audit log on and off (AUTHPROBE_AUDIT_LOG=off; its audit cells then error)
(e) the sweep over every supported minor (images cached) divided by one minor's main job
                                                                        target <= 3

Runs go through pytest as a user runs them; timings come from the wall clock and from
the lifecycle phases each run records in its outcomes.json.

    python benchmarks/bench.py [--only a,b,c,d,e] [--k8s-version 1.34] [--repeat 3]
                               [--reports DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from authprobe.harness import naming
from authprobe.harness.access import HttpClient, cluster_admin, endpoint_from_kubeconfig
from authprobe.harness.readiness import wait_ready
from authprobe.host import docker
from authprobe.host.tools import ensure_kind
from authprobe.model.timeouts import limit
from authprobe.model.versions import KubeVersion, default_minor, supported
from authprobe.wait import until

ROOT = Path(__file__).resolve().parent.parent
BARE = "authprobe-bench-bare"
BRING_UP = ("create", "verify", "connect", "ready")
PROFILES = ("anon-on", "anon-off", "anon-off-probe-8080", "anon-health-only")
GIB = 1024**3


def say(text: str) -> None:
    print(f"[bench] {text}", flush=True)


def main_job(reports: Path, version: str, *extra: str, env: dict | None = None) -> dict:
    """One run of the shipped scenarios; its wall time, exit status and outcomes.json."""
    argv = [sys.executable, "-m", "pytest", "-q", "--pyargs", "authprobe.scenarios",
            "--k8s-version", version, "--reports-dir", str(reports), *extra]
    label = " ".join([version, *extra])
    reports.mkdir(parents=True, exist_ok=True)
    output = reports / "pytest-output.log"
    say(f"main job {label} ... (its output as it runs: {output})")
    start = time.monotonic()
    with output.open("w") as out:
        result = subprocess.run(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                text=True, env={**os.environ, **(env or {})})
    wall = time.monotonic() - start
    tail = (output.read_text().strip().splitlines() or ["(no output)"])[-1]
    say(f"main job {label}: {wall:.0f}s, exit {result.returncode}: {tail}")
    outcomes = json.loads((reports / "latest" / "outcomes.json").read_text())
    return {"wall": wall, "exit": result.returncode, "outcomes": outcomes}


def bring_up_seconds(outcomes: dict) -> tuple[float, str]:
    rows = [p for p in outcomes["phases"] if p["phase"] in BRING_UP]
    if not rows or any(p["outcome"] != "passed" for p in rows):
        raise SystemExit(f"the harness run did not bring its cluster up: {rows}")
    return sum(p["seconds"] for p in rows), rows[0]["cluster"]


def harness_once(tmp: Path, version: str, audit: bool = True) -> tuple[float, str, str]:
    """One anon-on cluster through the harness, kept: (bring-up seconds, name, image)."""
    run = main_job(tmp / f"harness-{time.monotonic_ns()}", version, "--profile", "anon-on",
                   "--keep-cluster", "-k", "control_plane_comes_up",
                   env={"AUTHPROBE_AUDIT_LOG": "on" if audit else "off"})
    seconds, name = bring_up_seconds(run["outcomes"])
    image = next(c["node_image"] for c in run["outcomes"]["clusters"] if c["name"] == name)
    return seconds, name, image


def bare_once(kind: Path, private: Path, image: str, want: KubeVersion) -> tuple[float, str]:
    """`kind create cluster` with the harness's own files, then the same readiness checks."""
    kubeconfig = private / "bare-kubeconfig"
    naming.write_private(kubeconfig, "")
    start = time.monotonic()
    created = subprocess.run([str(kind), "create", "cluster", f"--name={BARE}",
                              f"--image={image}", "--config", str(private / "kind-config.yaml"),
                              f"--kubeconfig={kubeconfig}"], capture_output=True, text=True,
                             timeout=900)
    if created.returncode:
        raise SystemExit(f"bare kind create failed: {created.stderr.strip()[-400:]}")
    endpoint = endpoint_from_kubeconfig(kubeconfig, private / "bare-ca.crt")
    token = (private / "auth" / "tokens.csv").read_text().split(",", 1)[0]
    wait_ready(HttpClient(endpoint, token=token), cluster_admin(kubeconfig), want,
               timeout=limit("ready", want))
    return time.monotonic() - start, f"{BARE}-control-plane"


def delete(kind: Path, name: str) -> None:
    subprocess.run([str(kind), "delete", "cluster", f"--name={name}"], capture_output=True,
                   timeout=300)


def container_id(container: str) -> str:
    return docker.docker("inspect", "-f", "{{.Id}}", container,
                         check="docker inspect").stdout.strip()


def container_memory(container: str) -> tuple[int, int]:
    """(current, peak) memory bytes of a container from its cgroup (v1 or v2)."""
    cid = container_id(container)
    for base, current, peak in (
            (Path("/sys/fs/cgroup/memory/docker") / cid, "memory.usage_in_bytes",
             "memory.max_usage_in_bytes"),
            (Path("/sys/fs/cgroup/system.slice") / f"docker-{cid}.scope", "memory.current",
             "memory.peak")):
        if (base / current).exists():
            now = int((base / current).read_text())
            return now, int((base / peak).read_text()) if (base / peak).exists() else now
    raise SystemExit(f"no memory cgroup found for container {container}")


def container_cpu_seconds(container: str) -> float:
    """CPU seconds a container has used, from its cgroup (v1 or v2)."""
    cid = container_id(container)
    v1 = Path("/sys/fs/cgroup/cpuacct/docker") / cid / "cpuacct.usage"
    if v1.exists():
        return int(v1.read_text()) / 1e9
    v2 = Path("/sys/fs/cgroup/system.slice") / f"docker-{cid}.scope" / "cpu.stat"
    if v2.exists():
        for line in v2.read_text().splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) / 1e6
    raise SystemExit(f"no CPU cgroup found for container {container}")


def idle_usage(container: str, seconds: float) -> tuple[int, int, float]:
    """(current, peak) memory bytes over ``seconds`` idle, and the cores used meanwhile."""
    samples: list[tuple[int, int]] = []
    start, cpu_start = time.monotonic(), container_cpu_seconds(container)
    end = start + seconds

    def sampled() -> bool:
        samples.append(container_memory(container))
        return time.monotonic() >= end

    until(sampled, timeout=seconds + 60, interval=5, what="idle memory samples", quiet=True)
    cores = (container_cpu_seconds(container) - cpu_start) / (time.monotonic() - start)
    return max(s[0] for s in samples), max(s[1] for s in samples), cores


def bench_creation(args, tmp: Path, kind: Path, results: list[str]) -> None:
    """(b), (c) and the bring-up half of (d)."""
    want = supported()[args.k8s_version].patch
    harness, bare, off = [], [], []
    idle = None
    for turn in range(args.repeat):
        seconds, name, image = harness_once(tmp, args.k8s_version)
        harness.append(seconds)
        private = naming.private_dir(name)
        delete(kind, name)
        try:
            seconds, container = bare_once(kind, private, image, want)
            bare.append(seconds)
            if turn == 0 and "c" in args.only:
                idle = idle_usage(container, args.idle)
        finally:
            delete(kind, BARE)
            naming.forget(name)
        if "d" in args.only:
            seconds, name, _ = harness_once(tmp, args.k8s_version, audit=False)
            off.append(seconds)
            delete(kind, name)
            naming.forget(name)
        say(f"turn {turn + 1}: harness {harness[-1]:.1f}s, bare {bare[-1]:.1f}s"
            + (f", harness without audit {off[-1]:.1f}s" if off else ""))
    h, b = statistics.median(harness), statistics.median(bare)
    results.append(f"(b) harness create+verify+connect+ready {h:.1f}s / bare kind create + "
                   f"readiness {b:.1f}s = {h / b:.2f}   (target <= 1.10; medians of "
                   f"{args.repeat}: harness {', '.join(f'{x:.1f}' for x in harness)}; bare "
                   f"{', '.join(f'{x:.1f}' for x in bare)})")
    if idle:
        results.append(f"(c) idle cluster memory: peak {idle[1] / GIB:.2f} GiB "
                       f"({idle[1] / 1024**2:.0f} MiB), current {idle[0] / 1024**2:.0f} MiB "
                       f"over {args.idle:.0f}s idle   (target <= 1 GiB); CPU while idle "
                       f"{idle[2]:.2f} cores")
    if off:
        o = statistics.median(off)
        results.append(f"(d) bring-up with the audit log {h:.1f}s, without {o:.1f}s: "
                       f"{h - o:+.1f}s ({(h / o - 1) * 100:+.0f}%)")


def bench_matrix(args, tmp: Path, results: list[str]) -> dict:
    """(a), and the main-job half of (d)."""
    matrix = main_job(tmp / "matrix", args.k8s_version)
    if "a" in args.only:
        alone = {p: main_job(tmp / f"alone-{p}", args.k8s_version, "--profile", p)
                 for p in PROFILES}
        slowest = max(alone, key=lambda p: alone[p]["wall"])
        results.append(f"(a) main job {matrix['wall']:.0f}s / slowest profile alone ({slowest})"
                       f" {alone[slowest]['wall']:.0f}s = "
                       f"{matrix['wall'] / alone[slowest]['wall']:.2f}   (target <= 1.30; alone: "
                       + ", ".join(f"{p} {alone[p]['wall']:.0f}s" for p in PROFILES) + ")")
    if "d" in args.only:
        off = main_job(tmp / "matrix-no-audit", args.k8s_version,
                       env={"AUTHPROBE_AUDIT_LOG": "off"})
        results.append(f"(d) main job with the audit log {matrix['wall']:.0f}s, without "
                       f"{off['wall']:.0f}s: {matrix['wall'] - off['wall']:+.0f}s")
    return matrix


def bench_sweep(args, tmp: Path, matrix: dict, results: list[str]) -> None:
    """(e): every minor in one run, against one minor's main job."""
    sweep = main_job(tmp / "sweep", "all")
    counts = sweep["outcomes"]["run"]["counts"]
    results.append(f"(e) sweep of {len(supported())} minors {sweep['wall']:.0f}s / one minor's "
                   f"main job {matrix['wall']:.0f}s = {sweep['wall'] / matrix['wall']:.2f}   "
                   f"(target <= 3; exit {sweep['exit']}, cells {counts})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="a,b,c,d,e",
                        help="figures to measure, of a,b,c,d,e (default all)")
    parser.add_argument("--k8s-version", default=default_minor())
    parser.add_argument("--repeat", type=int, default=3, help="bring-ups per side for (b)")
    parser.add_argument("--idle", type=float, default=60, help="seconds of idle sampling")
    parser.add_argument("--reports", type=Path, default=None, metavar="DIR",
                        help="keep the main jobs' report folders under DIR (default: a "
                             "temporary folder, removed at the end)")
    args = parser.parse_args()
    args.only = set(args.only.split(","))
    kind = ensure_kind()
    results: list[str] = []
    with tempfile.TemporaryDirectory(prefix="authprobe-bench-") as folder:
        tmp = args.reports.resolve() if args.reports else Path(folder)
        tmp.mkdir(parents=True, exist_ok=True)
        if args.only & {"b", "c", "d"}:
            bench_creation(args, tmp, kind, results)
        matrix = bench_matrix(args, tmp, results) if args.only & {"a", "d", "e"} else None
        if "e" in args.only:
            bench_sweep(args, tmp, matrix, results)
    print()
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, "
          f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / GIB:.0f} GiB, "
          f"{platform.platform()}; Kubernetes {args.k8s_version}")
    for line in results:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
