"""Check that a running cluster is the profile it claims to be, and read its probe spec.

kind silently skips a kubeadm patch pinned to the wrong API version and silently reuses a
cluster of the same name, so after every create and on every reuse the kube-apiserver
static pod manifest is read back from the node and compared with the rendered profile, and
so is the running kubelet's configuration (:mod:`.verify_kubelet`).
"""

from __future__ import annotations

from ..errors import AuthprobeError
from .access import NodeAccess
from .manifest import PROBES, apiserver_container, flags_of, probe_spec, read_manifest
from .verify_kubelet import verify_kubelet


def differences(manifest: dict, expected: dict, other_flags: dict[str, set[str]],
                auth_files: list[str] | None = None) -> list[str]:
    """What differs between the manifest and ``expected`` (from ``render``); empty if none.

    ``other_flags`` maps the flags other profiles set to the values they set: this profile
    leaves them at kubeadm's defaults, so none of those values may be there (kubeadm 1.19
    writes --insecure-port=0 itself, which the 2017 fix sets to 8080).
    """
    container = apiserver_container(manifest)
    flags = flags_of(container)
    found = []
    for name, value in expected["args"].items():
        if name not in flags:
            found.append(f"--{name} is missing (profile sets {value!r})")
        elif flags[name] != value:
            found.append(f"--{name} is {flags[name]!r}, profile sets {value!r}")
    for name in expected.get("absent_args", []):
        if name in flags:
            found.append(f"--{name}={flags[name]} is set, profile leaves it out")
    for name in sorted(set(other_flags) - set(expected["args"])):
        if name in flags and flags[name] in other_flags[name]:
            found.append(f"--{name}={flags[name]} is set, profile leaves it unset")
    for probe in PROBES:
        present = container.get(probe) or {}
        http = present.get("httpGet") or {}
        wanted = expected["probes"].get(probe)
        if wanted:
            for key, value in wanted.items():
                have = http.get(key) if key in ("host", "port", "path", "scheme") else \
                    present.get(key)
                if str(have) != str(value):
                    found.append(f"{probe}.{key} is {have!r}, profile sets {value!r}")
        elif present and http.get("scheme") != "HTTPS":
            found.append(f"{probe} is {http.get('scheme')} on port {http.get('port')}, profile "
                         "keeps kubeadm's HTTPS probe")
    named = expected.get("named_port")
    if named is not None:
        ports = {p.get("name"): p.get("containerPort") for p in container.get("ports") or []}
        if ports.get("probe-port") != named:
            found.append(f"port probe-port is {ports.get('probe-port')!r}, profile sets {named}")
    mounts = {m.get("mountPath") for m in container.get("volumeMounts") or []}
    for path in expected.get("mounts", []):
        if path not in mounts:
            found.append(f"{path} is not mounted into kube-apiserver")
    if auth_files is not None:
        missing = sorted(set(expected["auth_files"]) - set(auth_files))
        if missing:
            found.append(f"auth files missing in the node: {', '.join(missing)}")
    return found


def inspect(node: NodeAccess, cluster: str, expected: dict, other_flags: dict[str, set[str]],
            auth_dir: str) -> tuple[list[str], dict]:
    """The differences between the node's manifest and the profile, and its probe spec."""
    manifest = read_manifest(node, cluster)
    listing = node.exec("ls", "-1", auth_dir, check=False)
    auth_files = listing.stdout.split() if listing.returncode == 0 else []
    found = differences(manifest, expected, other_flags, auth_files)
    if expected.get("kubelet"):
        found += verify_kubelet(node, expected["kubelet"])
    spec = probe_spec(apiserver_container(manifest))
    grace = (manifest.get("spec") or {}).get("terminationGracePeriodSeconds")
    return found, {**spec, "terminationGracePeriodSeconds": 30 if grace is None else int(grace)}


def verify(node: NodeAccess, cluster: str, profile_id: str, expected: dict,
           other_flags: dict[str, set[str]], auth_dir: str) -> dict:
    """Raise one AuthprobeError line naming every difference; return the probe spec."""
    found, spec = inspect(node, cluster, expected, other_flags, auth_dir)
    if found:
        raise AuthprobeError(
            f"cluster {cluster} does not run profile {profile_id}: " + "; ".join(found)
            + " (delete it with `authprobe clusters prune` and run again)")
    return spec
