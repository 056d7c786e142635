"""The Docker engine: find one that answers and runs privileged containers, or set one up.

On a machine without an engine (and as root with apt), authprobe installs Debian's docker.io
and starts dockerd. Where the host's capability bounding set lacks CAP_SYS_RESOURCE, which
``docker run --privileged`` (and so every kind node) needs, dockerd gets a runc wrapper as
its default runtime that drops the missing capability.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..errors import AuthprobeError
from ..model.timeouts import calls, waits
from ..paths import cache_dir
from ..progress import say, step
from ..wait import until
from . import packages
from .docker import docker

DATA = Path(__file__).resolve().parent.parent / "data"
WRAPPER_SOURCE = DATA / "runc-wrapper"
PROBE_SOURCE = DATA / "engine-probe.c"
DAEMON_JSON = Path("/etc/docker/daemon.json")
WRAPPER_PATH = Path("/usr/local/libexec/authprobe/runc-wrapper")
RUNTIME_NAME = "authprobe-runc"
CAP_SYS_RESOURCE = 24
PROBE_IMAGE = "authprobe/engine-probe:1"
# Every kind node's systemd, kubelet and containerd take inotify instances and watches from
# root's shared limits; kind's documentation asks for these values when running several.
INOTIFY_MINIMUMS = {"fs.inotify.max_user_instances": 512, "fs.inotify.max_user_watches": 524288}


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=calls().host_command)


def engine_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return docker("info", "--format", "{{.ServerVersion}}",
                      timeout=calls().host_query).returncode == 0
    except AuthprobeError:
        return False


def require_engine() -> None:
    """Fail with one line when no Docker engine answers."""
    if not engine_answers():
        raise AuthprobeError("no Docker engine answers `docker info`: run `authprobe bootstrap` "
                             "(installs and starts one) or start Docker")


def bounding_lacks(bit: int) -> bool:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return not int(line.split()[1], 16) >> bit & 1
    return False


def dockerd_log() -> Path:
    return cache_dir() / "logs" / "dockerd.log"


def _install_wrapper() -> bool:
    """Install the runc wrapper and make it dockerd's default runtime.

    Returns True when daemon.json changed (dockerd must restart to read it); a changed
    wrapper script alone takes effect with the next container operation.
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
    config = json.loads(DAEMON_JSON.read_text()) if DAEMON_JSON.exists() else {}
    wanted = dict(config)
    wanted["runtimes"] = dict(config.get("runtimes") or {},
                              **{RUNTIME_NAME: {"path": str(WRAPPER_PATH)}})
    wanted["default-runtime"] = RUNTIME_NAME
    if wanted == config:
        return False
    DAEMON_JSON.parent.mkdir(parents=True, exist_ok=True)
    DAEMON_JSON.write_text(json.dumps(wanted, indent=2) + "\n")
    return True


def _dockerd_pids() -> list[int]:
    result = _run(["pidof", "dockerd"])
    return [int(pid) for pid in result.stdout.split()] if result.returncode == 0 else []


def _start_dockerd() -> None:
    log = dockerd_log()
    log.parent.mkdir(parents=True, exist_ok=True)
    with step("starting dockerd", expect=5):
        with log.open("a") as out:
            subprocess.Popen(["dockerd"], stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True, close_fds=True)
        settled = until(lambda: engine_answers() or not _dockerd_pids(),
                        timeout=waits().engine,
                        interval=0.5, what="dockerd to answer", give_last=True)
        if settled and engine_answers():
            return
    raise AuthprobeError("dockerd did not come up", log_path=str(log))


def _stop_dockerd() -> None:
    for pid in _dockerd_pids():
        os.kill(pid, 15)
    if not until(lambda: not _dockerd_pids(), timeout=waits().engine, interval=0.5,
                 what="dockerd to stop", give_last=True):
        raise AuthprobeError("dockerd did not stop after SIGTERM; stop it and rerun")


def _wrapper_active() -> bool:
    return docker("info", "--format", "{{.DefaultRuntime}}",
                  timeout=calls().host_query).stdout.strip() == \
        RUNTIME_NAME


def _probe_image() -> str:
    """A tiny local image for the privileged check, made without any registry."""
    if docker("image", "inspect", PROBE_IMAGE).returncode == 0:
        return PROBE_IMAGE
    gcc = packages.ensure_command("gcc", "gcc", "to build the engine's privileged-container "
                                  "check")
    with tempfile.TemporaryDirectory(prefix="authprobe-probe-") as tmp:
        root = Path(tmp) / "rootfs"
        root.mkdir()
        built = _run([gcc, "-static", "-Os", "-o", str(root / "probe"), str(PROBE_SOURCE)])
        if built.returncode:
            raise AuthprobeError(f"gcc -static failed for the engine probe: {built.stderr.strip()}")
        tar = subprocess.run(["tar", "-C", str(root), "-c", "."], capture_output=True, check=True)
        docker("import", "-", PROBE_IMAGE, input=tar.stdout, check="docker import of the probe")
    return PROBE_IMAGE


def check_privileged() -> None:
    """`docker run --privileged` and `docker exec --privileged` must both work (kind uses them)."""
    image = _probe_image()
    name = f"authprobe-engine-probe-{os.getpid()}"
    try:
        for argv, what in ((("run", "-d", "--privileged", "--name", name, image, "/probe"),
                            "docker run --privileged"),
                           (("exec", "--privileged", name, "/probe", "exit"),
                            "docker exec --privileged")):
            result = docker(*argv)
            if result.returncode:
                last = (result.stderr.strip().splitlines() or ["no output"])[-1]
                raise AuthprobeError(f"`{what}` fails: {last}", log_path=str(dockerd_log()))
    finally:
        docker("rm", "-f", name)


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
            say(f"warning: {key} is {current}, which limits how many kind clusters run at once, "
                f"and cannot be raised here ({err.strerror}): run `sudo sysctl -w "
                f"{key}={minimum}`")
            continue
        say(f"{key} raised from {current} to {minimum} for several kind clusters")


def ensure_engine() -> None:
    """A Docker engine that answers and runs privileged containers; idempotent.

    Installs docker.io and starts dockerd where it can (root with apt); otherwise fails with
    one line naming what to do.
    """
    needs_wrapper = bounding_lacks(CAP_SYS_RESOURCE)
    answers = engine_answers()
    if answers and not (needs_wrapper and os.geteuid() == 0 and _dockerd_pids()
                        and not _wrapper_active()):
        raise_inotify_limits()
        return
    if not answers and shutil.which("dockerd") is None:
        if not packages.can_install():
            raise AuthprobeError("no Docker engine answers and authprobe cannot install one (not "
                                 "root): install and start Docker, then run again")
        packages.install("docker.io", "no Docker engine answers; kind runs its nodes in one")
    if needs_wrapper and os.geteuid() == 0:
        changed = _install_wrapper()
        if engine_answers() and (changed or not _wrapper_active()):
            if not _dockerd_pids():
                raise AuthprobeError(
                    "the running Docker engine is not this host's dockerd; configure it to drop "
                    f"CAP_SYS_RESOURCE for privileged containers (see {WRAPPER_SOURCE})")
            with step("restarting dockerd with the runc wrapper as its default runtime "
                      "(this host lacks CAP_SYS_RESOURCE)", expect=10):
                _stop_dockerd()
    if not engine_answers():
        _start_dockerd()
    with step("checking that docker run/exec --privileged work", expect=5):
        check_privileged()
    raise_inotify_limits()
