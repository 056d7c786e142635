"""The one way authprobe runs the docker CLI, and the few questions it asks the engine."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import IO

from ..errors import AuthprobeError
from ..model.timeouts import calls

KIND_CLUSTER_LABEL = "io.x-k8s.kind.cluster"


def docker(*argv: str, timeout: float | None = None, input: str | bytes | None = None,
           log: Path | None = None, check: str | None = None, stdin: IO | None = None,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run ``docker argv``; output captured (text), or appended to ``log`` when given.

    ``input`` is written to its standard input, or ``stdin`` (an open file or pipe) is.
    ``check`` names the step: a non-zero exit then raises one AuthprobeError line about it.
    ``timeout`` defaults to the named ``host_command``.
    """
    timeout = calls().host_command if timeout is None else timeout
    cmd = ["docker", *argv]
    text = not isinstance(input, bytes)
    extra = {"stdin": stdin} if stdin is not None else {"input": input}
    try:
        if log is None:
            result = subprocess.run(cmd, capture_output=True, text=text, timeout=timeout,
                                    env=env, **extra)
        else:
            with log.open("a") as out:
                out.write(f"$ {' '.join(cmd)}\n")
                out.flush()
                result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, text=text,
                                        timeout=timeout, env=env, **extra)
    except FileNotFoundError:
        raise AuthprobeError("the docker CLI is not installed: run `authprobe bootstrap` (or "
                             "install Docker)") from None
    except subprocess.TimeoutExpired:
        raise AuthprobeError(f"`docker {' '.join(argv[:3])}` did not finish in {timeout:.0f}s"
                             + (f" ({check})" if check else ""),
                             log_path=str(log) if log else None) from None
    if check and result.returncode:
        detail = ""
        if log is None:
            output = result.stderr if text else result.stderr.decode(errors="replace")
            lines = (output or "").strip().splitlines()
            detail = f": {lines[-1]}" if lines else ""
        raise AuthprobeError(f"{check} failed (`docker {argv[0]}` exit {result.returncode})"
                             f"{detail}", log_path=str(log) if log else None)
    return result


def image_inspect(ref: str) -> dict | None:
    """``docker image inspect`` of ``ref``, or None when the engine has no such image."""
    result = docker("image", "inspect", ref)
    if result.returncode:
        return None
    return json.loads(result.stdout)[0]


def image_exists(ref: str) -> bool:
    return image_inspect(ref) is not None


def image_label(ref: str, label: str) -> str | None:
    details = image_inspect(ref)
    if details is None:
        return None
    return ((details.get("Config") or {}).get("Labels") or {}).get(label)


def images(repository: str) -> list[tuple[str, str]]:
    """(repository:tag, image ID) of every tagged image of ``repository``."""
    result = docker("images", repository, "--format", "{{.Repository}}:{{.Tag}} {{.ID}}")
    rows = []
    for line in result.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2 and not parts[0].endswith(":<none>"):
            rows.append((parts[0], parts[1]))
    return rows


def tag(source: str, target: str) -> None:
    docker("tag", source, target, check=f"docker tag {source} {target}")


def root_dir() -> Path:
    """Where the engine keeps its images (for free-space checks)."""
    result = docker("info", "--format", "{{.DockerRootDir}}")
    return Path(result.stdout.strip() or "/var/lib/docker")


def remove_images(refs: list[str]) -> None:
    """Untag ``refs`` (best effort: an image a container uses stays)."""
    if refs:
        docker("rmi", *refs, timeout=calls().image_remove)


def kind_containers(cluster: str | None = None) -> list[dict]:
    """Node containers of kind clusters (of ``cluster`` only, when given), as docker lists them."""
    label = KIND_CLUSTER_LABEL + (f"={cluster}" if cluster else "")
    result = docker("ps", "-a", "--filter", f"label={label}", "--format", "{{json .}}")
    if result.returncode:
        raise AuthprobeError(f"`docker ps` failed: {result.stderr.strip()}")
    rows = []
    for line in result.stdout.splitlines():
        row = json.loads(line)
        labels = dict(part.split("=", 1) for part in row.get("Labels", "").split(",")
                      if "=" in part)
        row["cluster"] = labels.get(KIND_CLUSTER_LABEL, "")
        rows.append(row)
    return rows


def container_names(cluster: str) -> list[str]:
    return [row["Names"] for row in kind_containers(cluster)]


def remove_containers(names: list[str]) -> None:
    if names:
        docker("rm", "-f", "-v", *names, timeout=calls().kind_command)
