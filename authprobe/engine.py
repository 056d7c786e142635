"""The container engine: check that Docker answers, or install and start one (``bootstrap``)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import tenacity

from .errors import AuthprobeError
from .paths import cache_dir
from .progress import say, step

DAEMON_JSON = Path("/etc/docker/daemon.json")
WRAPPER_SOURCE = Path(__file__).resolve().parent / "data" / "runc-wrapper"
PROBE_SOURCE = Path(__file__).resolve().parent / "data" / "engine-probe.c"
WRAPPER_PATH = Path("/usr/local/libexec/authprobe/runc-wrapper")
RUNTIME_NAME = "authprobe-runc"
CAP_SYS_RESOURCE = 24
PROBE_IMAGE = "authprobe/engine-probe:1"


def _run(cmd: list[str], timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)


def engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        result = _run(["docker", "info", "--format", "{{.ServerVersion}}"], timeout=20)
        return result.returncode == 0
    except subprocess.TimeoutExpired:
        return False


def require_engine() -> None:
    """Fail with one line when no Docker engine answers."""
    if shutil.which("docker") is None:
        raise AuthprobeError(
            "the docker CLI is not installed: run `authprobe bootstrap` or install Docker"
        )
    if not engine_answers():
        raise AuthprobeError(
            "no Docker engine answers `docker info`: run `authprobe bootstrap` or start Docker"
        )


def bounding_lacks(bit: int) -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return not int(line.split()[1], 16) >> bit & 1
    return False


def dockerd_log() -> Path:
    return cache_dir() / "dockerd.log"


def _install_docker() -> None:
    if os.geteuid() != 0:
        raise AuthprobeError(
            "no Docker engine and not root: install Docker (Debian package docker.io) and start it"
        )
    log = cache_dir() / "apt-docker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with step("installing docker.io with apt-get", expect=90), log.open("w") as out:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "docker.io"]):
            if subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env).returncode:
                raise AuthprobeError(f"`{' '.join(cmd)}` failed", log_path=str(log))


def _install_wrapper() -> bool:
    """Install the runc wrapper and make it dockerd's default runtime.

    Returns True when daemon.json changed (dockerd must restart to read it); a changed wrapper
    script alone takes effect with the next container operation.
    """
    real_runc = shutil.which("runc") or "/usr/sbin/runc"
    python = "/usr/bin/python3" if Path("/usr/bin/python3").exists() else shutil.which("python3")
    text = WRAPPER_SOURCE.read_text().replace("@REAL_RUNC@", real_runc)
    text = text.replace("#!/usr/bin/python3", f"#!{python}", 1)
    if not WRAPPER_PATH.exists() or WRAPPER_PATH.read_text() != text:
        WRAPPER_PATH.parent.mkdir(parents=True, exist_ok=True)
        staged = WRAPPER_PATH.with_suffix(".new")
        staged.write_text(text)
        staged.chmod(0o755)
        staged.replace(WRAPPER_PATH)
    changed = False
    config = json.loads(DAEMON_JSON.read_text()) if DAEMON_JSON.exists() else {}
    wanted = dict(config)
    wanted.setdefault("runtimes", {})
    wanted["runtimes"] = dict(wanted["runtimes"], **{RUNTIME_NAME: {"path": str(WRAPPER_PATH)}})
    wanted["default-runtime"] = RUNTIME_NAME
    if wanted != config:
        DAEMON_JSON.parent.mkdir(parents=True, exist_ok=True)
        DAEMON_JSON.write_text(json.dumps(wanted, indent=2) + "\n")
        changed = True
    return changed


def _dockerd_pids() -> list[int]:
    result = _run(["pidof", "dockerd"])
    return [int(pid) for pid in result.stdout.split()] if result.returncode == 0 else []


def _start_dockerd() -> None:
    log = dockerd_log()
    log.parent.mkdir(parents=True, exist_ok=True)
    with step("starting dockerd", expect=5):
        with log.open("a") as out:
            subprocess.Popen(
                ["dockerd"], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, close_fds=True,
            )
        # Answering, or exited: either ends the wait.
        settled = tenacity.Retrying(
            retry=tenacity.retry_if_result(lambda up: not up and bool(_dockerd_pids())),
            stop=tenacity.stop_after_delay(60), wait=tenacity.wait_fixed(0.5),
            retry_error_callback=lambda state: False,
        )
        if settled(engine_answers):
            return
    raise AuthprobeError("dockerd did not come up", log_path=str(log))


def _stop_dockerd() -> None:
    pids = _dockerd_pids()
    for pid in pids:
        os.kill(pid, 15)
    stopped = tenacity.Retrying(
        retry=tenacity.retry_if_result(bool), stop=tenacity.stop_after_delay(60),
        wait=tenacity.wait_fixed(0.5), retry_error_callback=lambda state: state.outcome.result(),
    )
    if stopped(_dockerd_pids):
        raise AuthprobeError("dockerd did not stop after SIGTERM; stop it and rerun bootstrap")


def _wrapper_active() -> bool:
    result = _run(["docker", "info", "--format", "{{.DefaultRuntime}}"], timeout=20)
    return result.stdout.strip() == RUNTIME_NAME


def _probe_image() -> str:
    """A tiny local image for the privileged check, made without any registry."""
    if _run(["docker", "image", "inspect", PROBE_IMAGE]).returncode == 0:
        return PROBE_IMAGE
    if shutil.which("gcc") is None:
        raise AuthprobeError("cannot build the engine probe: install gcc (Debian package gcc)")
    with tempfile.TemporaryDirectory(prefix="authprobe-probe-") as tmp:
        root = Path(tmp) / "rootfs"
        root.mkdir()
        built = _run(["gcc", "-static", "-Os", "-o", str(root / "probe"), str(PROBE_SOURCE)])
        if built.returncode:
            raise AuthprobeError(f"gcc -static failed for the engine probe: {built.stderr.strip()}")
        tar = subprocess.run(["tar", "-C", str(root), "-c", "."], capture_output=True, check=True)
        result = subprocess.run(
            ["docker", "import", "-", PROBE_IMAGE], input=tar.stdout, capture_output=True
        )
    if result.returncode:
        raise AuthprobeError(
            f"docker import of the probe image failed: {result.stderr.decode().strip()}"
        )
    return PROBE_IMAGE


def check_privileged() -> None:
    """`docker run --privileged` and `docker exec --privileged` must both work (kind uses them)."""
    image = _probe_image()
    name = f"authprobe-engine-probe-{os.getpid()}"
    try:
        run = _run(["docker", "run", "-d", "--privileged", "--name", name, image,
                    "/probe"])
        if run.returncode:
            raise AuthprobeError(
                f"`docker run --privileged` fails: {run.stderr.strip().splitlines()[-1]}",
                log_path=str(dockerd_log()),
            )
        exe = _run(["docker", "exec", "--privileged", name, "/probe", "exit"])
        if exe.returncode:
            raise AuthprobeError(
                f"`docker exec --privileged` fails: {exe.stderr.strip().splitlines()[-1]}",
                log_path=str(dockerd_log()),
            )
    finally:
        _run(["docker", "rm", "-f", name])


def bootstrap() -> None:
    """Make a Docker engine answer and run privileged containers; idempotent."""
    needs_wrapper = bounding_lacks(CAP_SYS_RESOURCE)
    if shutil.which("dockerd") is None and not engine_answers():
        _install_docker()
    if needs_wrapper and os.geteuid() == 0 and shutil.which("dockerd"):
        changed = _install_wrapper()
        if engine_answers() and (changed or not _wrapper_active()):
            if not _dockerd_pids():
                raise AuthprobeError(
                    "the running Docker engine is not this host's dockerd; configure it to drop "
                    f"CAP_SYS_RESOURCE for privileged containers (see {WRAPPER_SOURCE})"
                )
            with step("restarting dockerd with the runc wrapper as default runtime", expect=10):
                _stop_dockerd()
    if not engine_answers():
        if shutil.which("dockerd") is None:
            raise AuthprobeError("dockerd is not installed: install the Debian package docker.io")
        _start_dockerd()
    with step("checking docker run/exec --privileged", expect=5):
        check_privileged()
    raise_inotify_limits()
    say("Docker engine ready")


# Every kind node's systemd, kubelet and containerd take inotify instances and watches from
# root's shared limits; kind's documentation asks for these values when running several.
INOTIFY_MINIMUMS = {
    "fs.inotify.max_user_instances": 512,
    "fs.inotify.max_user_watches": 524288,
}


def raise_inotify_limits() -> None:
    """Raise the host's inotify limits to what several kind clusters need, when lower."""
    for key, minimum in INOTIFY_MINIMUMS.items():
        path = Path("/proc/sys") / key.replace(".", "/")
        try:
            current = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if current >= minimum:
            continue
        try:
            path.write_text(f"{minimum}\n")
        except OSError as err:
            say(f"warning: {key} is {current}, which limits how many kind clusters run at "
                f"once, and cannot be raised here ({err.strerror}): run "
                f"`sysctl -w {key}={minimum}` as root")
            continue
        say(f"{key} raised from {current} to {minimum} for several kind clusters")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-kind", action="store_true", help="do not build or check the pinned kind binary"
    )


def run(args: argparse.Namespace) -> int:
    bootstrap()
    if not args.no_kind:
        from .tools import ensure_kind

        kind = ensure_kind()
        say(f"kind ready: {kind}")
    return 0
