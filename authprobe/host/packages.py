"""Debian packages authprobe installs when a step needs them and the machine allows it.

Each install is announced with what and why; where authprobe cannot install (not root, no
apt-get), the caller gets one line naming the command that installs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

from ..errors import AuthprobeError
from ..paths import cache_dir
from ..progress import step

_lock = threading.Lock()
_updated = False


def can_install() -> bool:
    return os.geteuid() == 0 and shutil.which("apt-get") is not None


def ensure_command(command: str, package: str, why: str) -> str:
    """The path of ``command``, installing Debian ``package`` first when it is missing."""
    found = shutil.which(command)
    if found:
        return found
    install(package, why)
    found = shutil.which(command)
    if not found:
        raise AuthprobeError(f"the Debian package {package} is installed but {command} is not on "
                             "PATH")
    return found


def install(package: str, why: str) -> None:
    """``apt-get install -y package``, announced as one step saying what and why."""
    global _updated
    if not can_install():
        raise AuthprobeError(f"{package} is missing ({why}): install it with "
                             f"`sudo apt-get install -y {package}` and run again")
    log = cache_dir() / "logs" / f"apt-{package}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with _lock, step(f"installing the Debian package {package} ({why})", expect=60), \
            log.open("w") as out:
        commands = [] if _updated else [["apt-get", "update"]]
        commands.append(["apt-get", "install", "-y", package])
        for cmd in commands:
            code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                                  stdin=subprocess.DEVNULL).returncode
            if code:
                raise AuthprobeError(f"`{' '.join(cmd)}` failed (exit {code})", log_path=str(log))
        _updated = True
