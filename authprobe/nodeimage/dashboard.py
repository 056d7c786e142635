"""The Kubernetes Dashboard image without a registry: build the v2.7.0 backend, wrap it as an image.

The backend is a static Go program. It is compiled either from the Go module proxy
(``DASHBOARD_MODULE@DASHBOARD_VERSION``) or, when ``AUTHPROBE_DASHBOARD_SOURCE`` names a
checkout of the release tag, from that tree. The image holds the binary at ``/dashboard``
and empty ``/tmp`` and ``/certs``; it has no web front end, so ``/`` answers 404 while the API
(``/api/v1/login/status``) answers. Users with a registry use ``PUBLISHED_IMAGE`` instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

from ..errors import AuthprobeError
from ..host.docker import image_exists
from ..host.engine import require_engine
from ..host.tools import go_binary, go_version
from ..model.timeouts import calls
from ..paths import clusters_dir
from ..progress import say, step
from .gomod import go_env
from .rootfs import tar_import

DASHBOARD_MODULE = "github.com/kubernetes/dashboard"
DASHBOARD_RELEASE = "v2.7.0"
DASHBOARD_COMMIT = "42deb6b32a27296ac47d1f9839a68fab6053e5fc"
# The module path has no /v2 suffix, so the v2.7.0 tag is not a version of it: the module
# version is the release commit's pseudo-version, based on v1.10.0, the newest v1 tag before it.
DASHBOARD_VERSION = "v1.10.1-0.20220916113319-42deb6b32a27"
MAIN_PACKAGE = f"{DASHBOARD_MODULE}/src/app/backend"
PUBLISHED_IMAGE = "kubernetesui/dashboard:v2.7.0"
IMAGE_REPOSITORY = "authprobe/dashboard"
SOURCE_ENV = "AUTHPROBE_DASHBOARD_SOURCE"

PLACEHOLDER = "${DASHBOARD_IMAGE}"
NAMESPACE = "kubernetes-dashboard"
PROXY_PATH = f"/api/v1/namespaces/{NAMESPACE}/services/https:kubernetes-dashboard:/proxy/"
LOGIN_STATUS = "api/v1/login/status"

LDFLAGS = f"-s -w -X {MAIN_PACKAGE}/client.Version={DASHBOARD_RELEASE}"
ENTRYPOINT = ["/dashboard"]
# Bump when the image layout below changes, so old images are not reused.
RECIPE = 1

_IMAGE_REF = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/:@-]*$")


class DashboardUnavailable(AuthprobeError):
    """No Dashboard source here: the Go module proxy refuses the module and no checkout is set."""


def render_manifest(image: str) -> str:
    """The suite's Dashboard manifest with ``image`` as the container image."""
    if not isinstance(image, str) or not _IMAGE_REF.match(image):
        raise AuthprobeError(
            f"invalid Dashboard image reference {image!r}: give a reference such as "
            f"{PUBLISHED_IMAGE}"
        )
    manifest = clusters_dir() / "dashboard.yaml"
    text = manifest.read_text()
    if PLACEHOLDER not in text:
        raise AuthprobeError(f"{manifest} has no {PLACEHOLDER} placeholder: restore the file")
    return text.replace(PLACEHOLDER, image)


def _go_env(gobin: Path | None = None) -> dict[str, str]:
    env = go_env()
    if gobin is not None:
        env["GOBIN"] = str(gobin)
    return env


def source_dir() -> Path | None:
    """The local Dashboard source tree named by AUTHPROBE_DASHBOARD_SOURCE, checked."""
    value = os.environ.get(SOURCE_ENV)
    if not value:
        return None
    root = Path(value).expanduser().resolve()
    gomod = root / "go.mod"
    first = gomod.read_text().splitlines()[0].strip() if gomod.is_file() else ""
    if first != f"module {DASHBOARD_MODULE}" or not (root / "src/app/backend").is_dir():
        raise AuthprobeError(
            f"{SOURCE_ENV}={value} is not a Kubernetes Dashboard source tree (needs go.mod "
            f"declaring {DASHBOARD_MODULE} and src/app/backend): point it at a checkout of "
            f"tag {DASHBOARD_RELEASE}"
        )
    return root


def _tree_digest(root: Path) -> str:
    digest = hashlib.sha256()
    files = [root / "go.mod", root / "go.sum"]
    files += sorted(p for p in (root / "src/app/backend").rglob("*") if p.is_file())
    for path in files:
        if path.is_file():
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def inputs() -> dict:
    """Everything the image is made from; the image is rebuilt when any of it changes."""
    root = source_dir()
    return {
        "module": DASHBOARD_MODULE,
        "version": DASHBOARD_VERSION,
        "release": DASHBOARD_RELEASE,
        "source": _tree_digest(root) if root else "module-proxy",
        "go": go_version(),
        "ldflags": LDFLAGS,
        "cgo": "0",
        "entrypoint": ENTRYPOINT,
        "recipe": RECIPE,
    }


def inputs_hash() -> str:
    """12 hex digits identifying the Dashboard image's inputs."""
    blob = json.dumps(inputs(), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def image_tag() -> str:
    return f"{IMAGE_REPOSITORY}:{DASHBOARD_RELEASE}-{inputs_hash()}"


def _run_logged(cmd: list[str], log: Path, **kwargs) -> int:
    with log.open("a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, **kwargs)
        out.write(f"[exit {result.returncode}]\n")
    return result.returncode


def _proxy_refused(log: Path) -> bool:
    text = log.read_text(errors="replace")
    return any(word in text for word in ("403 Forbidden", "not available", "unknown revision"))


def _compile(out_dir: Path, log: Path) -> Path:
    """Build the backend into ``out_dir/dashboard``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    binary = out_dir / "dashboard"
    binary.unlink(missing_ok=True)
    root = source_dir()
    if root is not None:
        label = f"building Kubernetes Dashboard {DASHBOARD_RELEASE} backend from {root}"
        cmd = [go_binary(), "build", "-trimpath", "-ldflags", LDFLAGS, "-o", str(binary),
               "./src/app/backend"]
        with step(label, expect=120):
            code = _run_logged(cmd, log, cwd=root, env=_go_env(),
                               timeout=calls().dashboard_build)
            if code or not binary.is_file():
                raise AuthprobeError(f"{label} failed", log_path=str(log))
        return binary
    module = f"{DASHBOARD_MODULE}@{DASHBOARD_VERSION}"
    label = f"building Kubernetes Dashboard {DASHBOARD_RELEASE} backend ({module})"
    cmd = [go_binary(), "install", "-trimpath", "-ldflags", LDFLAGS,
           f"{MAIN_PACKAGE}@{DASHBOARD_VERSION}"]
    installed = out_dir / "backend"
    with step(label, expect=120):
        code = _run_logged(cmd, log, cwd=out_dir, env=_go_env(gobin=out_dir),
                           timeout=calls().dashboard_build)
        if code and _proxy_refused(log):
            raise DashboardUnavailable(
                f"the Go module proxy does not serve {module} (Dashboard {DASHBOARD_RELEASE}): "
                f"set {SOURCE_ENV} to a checkout of its {DASHBOARD_RELEASE} tag, or use a "
                f"registry and {PUBLISHED_IMAGE}",
                log_path=str(log),
            )
        if code or not installed.is_file():
            raise AuthprobeError(f"{label} failed", log_path=str(log))
    installed.replace(binary)
    return binary


def available() -> bool:
    """Whether the backend can be built here: a checkout is set, or the proxy serves the module."""
    if source_dir() is not None:
        return True
    result = subprocess.run(
        [go_binary(), "mod", "download", "-json", f"{DASHBOARD_MODULE}@{DASHBOARD_VERSION}"],
        capture_output=True, text=True, timeout=calls().image_build_short, env=_go_env(), cwd="/",
    )
    return result.returncode == 0


def _image_tree(binary: Path, tree: Path) -> Path:
    """The image's whole file system: /dashboard, an empty /certs and /tmp."""
    if tree.exists():
        shutil.rmtree(tree)
    for name, mode in (("certs", 0o755), ("tmp", 0o1777)):
        (tree / name).mkdir(parents=True)
        (tree / name).chmod(mode)
    shutil.copyfile(binary, tree / "dashboard")
    (tree / "dashboard").chmod(0o755)
    return tree


IMAGE_CHANGES = [
    f"ENTRYPOINT {json.dumps(ENTRYPOINT)}",
    "EXPOSE 8443",
    f"LABEL io.authprobe.dashboard.module={DASHBOARD_MODULE}@{DASHBOARD_VERSION}",
    f"LABEL io.authprobe.dashboard.release={DASHBOARD_RELEASE}",
]


def build_dashboard_image(work_dir: Path, log_dir: Path) -> str:
    """The local Dashboard image reference, built only when no image with its tag exists."""
    require_engine()
    tag = image_tag()
    if image_exists(tag):
        say(f"Dashboard image {tag} is up to date")
        return tag
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / f"dashboard-{tag.rsplit(':', 1)[1]}.log"
    log.write_text("")
    binary = _compile(Path(work_dir) / "dashboard-build", log)
    with step(f"assembling image {tag}", expect=15):
        tree = _image_tree(binary, Path(work_dir) / "dashboard-image")
        tar_import(tree, tag, IMAGE_CHANGES, log, tag)
    return tag
