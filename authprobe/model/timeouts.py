"""Every timeout authprobe keeps, named once, in seconds.

Three groups:

- :class:`StepLimits`: how long a lifecycle step may take. Their values are per Kubernetes
  version, in ``clusters/versions.yaml`` (``timeouts``: the first row names each, a later row
  changes one from its minor on).
- :class:`Waits`: how long the harness waits for a condition of a cluster, the engine or a
  process (polled with :func:`authprobe.wait.until`).
- :class:`Calls`: how long one small command or request may take (a command in the node, a
  docker or kind call, an API request, an image pull, a step of a node image build).

A lifecycle step of a team's own declares its timeouts with their defaults
(``Step(..., timeouts={"kernel": 120})``); its names join the set. Any named timeout can be
overridden for a run (``--set-timeout NAME=SECONDS``, ``AUTHPROBE_TIMEOUTS="a=1,b=2"``, or the
ini key ``authprobe_timeouts``, one ``NAME=SECONDS`` a line). The plugin sets the run's table
with :func:`configure`; code reads it with :func:`limit` (by name, at a version), :func:`waits`
and :func:`calls`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from ..errors import AuthprobeError
from .versions import KubeVersion, VersionTable, version_table

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def named(meaning: str, seconds: float | None = None) -> Any:
    """A field of a timeout group: its default in seconds (none for a per-version one)
    and what it limits."""
    if seconds is None:
        return field(metadata={"meaning": meaning})
    return field(default=float(seconds), metadata={"meaning": meaning})


@dataclass(frozen=True)
class StepLimits:
    """How long each lifecycle step may take; per version, from clusters/versions.yaml."""

    create: float = named("kind create cluster: node start, kubeadm init, the control plane")
    probe_patch: float = named("the kubelet stopping, then restarting, kube-apiserver after a "
                               "probe change in its manifest (each)")
    ready: float = named("/readyz 200, the default ServiceAccount and the version, after "
                         "create or upgrade; the control plane settling after an upgrade")
    upgrade_plan: float = named("kubeadm upgrade plan and diff (each)")
    upgrade_apply: float = named("kubeadm upgrade apply")
    upgrade_kubelet: float = named("the new kubelet reporting its version on the node")
    teardown: float = named("kind delete cluster and the node containers gone")


@dataclass(frozen=True)
class Waits:
    """How long the harness waits for a condition."""

    restart_window: float = named("kube-apiserver restarts are watched this long when its "
                                  "probes give no budget (and --observe-window is not given)",
                                  330)
    window_overrun: float = named("the restart sampler may take this long past the window to "
                                  "cover it", 180)
    apiserver_back: float = named("kube-apiserver answering again after a restart (its "
                                  "crash back-off included)", 420)
    apiserver_command: float = named("a kubectl command through an apiserver the upgrade "
                                     "restarts, asked again until it answers", 240)
    events: float = named("the kube-apiserver pod's events, asked again while the apiserver "
                          "restarts", 180)
    answer_settles: float = named("an answer settling: the status a scenario waits for, or a "
                                  "health answer without a failed check", 120)
    audit_record: float = named("the audit record of a request written to the log", 20)
    dashboard_available: float = named("the Dashboard Deployment available", 300)
    rbac_change: float = named("an RBAC binding a scenario makes taking effect", 60)
    exec_target: float = named("a running pod for the exec scenarios (kube-proxy's)", 180)
    kubelet_answer: float = named("an answer from the kubelet with its webhooks up", 480)
    kubelet_cache: float = named("the kubelet asking the apiserver again after a cached "
                                 "denial (its cacheUnauthorizedTTL is 30 s)", 120)
    kubelet_revocation: float = named("the kubelet refusing a user whose binding was deleted: "
                                      "it keeps an allowed answer of its webhook authorizer "
                                      "for its cacheAuthorizedTTL, 5 min by default", 420)
    jwt_authenticator: float = named("kube-apiserver's JWT authenticator serving: a token of "
                                     "the cluster's issuer accepted after the apiserver fetched "
                                     "its discovery document and keys", 120)
    config_reload: float = named("kube-apiserver taking a changed AuthenticationConfiguration "
                                 "or AuthorizationConfiguration file, or refusing it: it sees "
                                 "the change at once (inotify) or at its poll a minute later, "
                                 "then waits up to a minute for new JWT authenticators to be "
                                 "healthy (1.30-1.37)", 150)
    webhook_answers: float = named("a request the webhook authorizer decides reaching it, "
                                   "once its cached answers expired", 30)
    thread_stop: float = named("a background thread (restart sampler, exit watcher) ending "
                               "after it is told to", 30)
    process_exit: float = named("a child process ending after SIGTERM, then after SIGKILL",
                                10)
    engine: float = named("the Docker engine answering after its start, or gone after its "
                          "stop", 60)
    build_containerd: float = named("containerd answering in a node image build container",
                                    60)


@dataclass(frozen=True)
class Calls:
    """How long one command or request may take."""

    api_request: float = named("one request to kube-apiserver (readiness, events, Dashboard)",
                               10)
    api_sample: float = named("the restart sampler's list of the apiserver pod", 5)
    exec_stream: float = named("the stream of one exec into a pod", 60)
    http_request: float = named("one HTTP request of a scenario's client", 15)
    server_connection: float = named("a client of the cluster's issuer or webhook authorizer "
                                     "that connects and sends nothing, dropped after", 10)
    registry_check: float = named("whether the image registry answers", 5)
    node_poll: float = named("the runtime's containers, read while kind create runs", 15)
    node_read: float = named("a short read in the node: crictl, cat, journalctl of the "
                             "kubelet, a kubectl get", 30)
    node_exec: float = named("a command in the node container (docker exec)", 60)
    node_slow: float = named("a slow command in the node: restarting the kubelet, kubectl "
                             "apply, copying the audit log, containerd's image list", 120)
    kubectl_request: float = named("one request kubectl makes through the apiserver's node "
                                   "proxy (its --request-timeout)", 20)
    host_query: float = named("a question to the engine or a tool (docker info, docker "
                              "port, kind version)", 20)
    tool_version: float = named("a built binary or openssl answering a short question", 30)
    host_command: float = named("a docker, go, kubeadm or kind get kubeconfig command on the "
                                "host", 60)
    kind_command: float = named("a kind command (export logs, delete cluster); removing "
                                "node containers", 180)
    image_remove: float = named("docker rmi; copying a file out of an image", 300)
    image_pull: float = named("docker pull of a node image", 1800)
    image_pull_small: float = named("docker pull of a named or component image", 900)
    image_build_step: float = named("one step of a node image build: docker save, cp, "
                                    "import, commit; debootstrap; a Go module download", 1800)
    image_build_short: float = named("a short step of an image build: a one-line Dockerfile, "
                                     "a layer copy, the download of one small Go module", 600)
    image_build_long: float = named("a long step of an image build: a go build (Kubernetes, "
                                    "components, the OpenAPI generator), go mod tidy, a "
                                    "command in the node's root filesystem", 7200)
    dashboard_build: float = named("go build of the Dashboard", 3600)


GROUPS = (StepLimits, Waits, Calls)
STEP_NAMES = tuple(f.name for f in fields(StepLimits))
SHIPPED = {f.name: group for group in GROUPS for f in fields(group)}


def meaning(name: str) -> str:
    group = SHIPPED[name]
    return next(f.metadata["meaning"] for f in fields(group) if f.name == name)


def defaults() -> dict[str, float]:
    """Every shipped timeout that has a default (the per-version ones have none)."""
    return {f.name: f.default for group in (Waits, Calls) for f in fields(group)}


def seconds_value(value: Any, where: str) -> float:
    """A positive, finite number of seconds, or one line naming ``where``."""
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise AuthprobeError(f"{where}: '{value}' is not a number of seconds") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise AuthprobeError(f"{where}: {value!r} is not a number of seconds")
    if not math.isfinite(value) or value <= 0:
        raise AuthprobeError(f"{where}: {value} must be a positive number of seconds")
    return float(value)


def parse_overrides(items: list[str], where: str) -> dict[str, float]:
    """``NAME=SECONDS`` items (each may be a comma list) as a mapping; one line on a bad one.
    Names are checked against the run's set by :func:`configure`."""
    found: dict[str, float] = {}
    for item in items:
        for part in (p.strip() for p in str(item).split(",")):
            if not part:
                continue
            name, sep, value = part.partition("=")
            name = name.strip()
            if not sep or not name:
                raise AuthprobeError(f"{where} '{part}': write NAME=SECONDS, e.g. ready=300")
            found[name] = seconds_value(value, f"{where} {name}")
    return found


def check_versions_file(table: VersionTable) -> None:
    """The versions file's ``timeouts`` rows name the per-version timeouts only, and its
    first row names every one of them."""
    for since, row in table.timeouts.rows:
        unknown = sorted(set(row) - set(STEP_NAMES))
        if unknown:
            other = [n for n in unknown if n in SHIPPED]
            hint = (f" ({', '.join(other)} not per version: override it with --set-timeout)"
                    if other else "")
            raise AuthprobeError(
                f"malformed version file {table.source} at timeouts since {since}: unknown "
                f"timeout(s) {', '.join(unknown)}; the per-version ones are "
                f"{', '.join(STEP_NAMES)}{hint}")
    missing = [n for n in STEP_NAMES if n not in table.timeouts.rows[0][1]]
    if missing:
        raise AuthprobeError(
            f"malformed version file {table.source} at timeouts since "
            f"{table.timeouts.first}: the first row must name {', '.join(missing)}")


@dataclass(frozen=True)
class Table:
    """The timeouts of one run: the shipped ones, those the run's lifecycle steps declare,
    and the run's overrides."""

    declared: Mapping[str, float] = field(default_factory=dict)  # by lifecycle steps
    overrides: Mapping[str, float] = field(default_factory=dict)

    def limit(self, name: str, version: KubeVersion) -> float:
        if name in self.overrides:
            return self.overrides[name]
        if name in STEP_NAMES:
            table = version_table()
            check_versions_file(table)
            return table.timeouts_for(version)[name]
        if name in self.declared:
            return self.declared[name]
        if name in SHIPPED:
            return defaults()[name]
        raise AuthprobeError(f"no timeout is named '{name}': name it in the step's "
                             "timeouts (Step(..., timeouts={...}))")

    def waits(self) -> Waits:
        return replace(Waits(), **{n: v for n, v in self.overrides.items()
                                   if SHIPPED.get(n) is Waits})

    def calls(self) -> Calls:
        return replace(Calls(), **{n: v for n, v in self.overrides.items()
                                   if SHIPPED.get(n) is Calls})


_active = Table()


def step_timeouts(step: str, given: Any) -> dict[str, float]:
    """A lifecycle step's own timeouts, checked: new names (lower case, digits and
    underscores), each a positive number of seconds."""
    if not isinstance(given, Mapping):
        raise AuthprobeError(f"lifecycle step '{step}': timeouts must map names to seconds, "
                             f"not {given!r}")
    found = {}
    for name, value in given.items():
        where = f"lifecycle step '{step}': timeout '{name}'"
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise AuthprobeError(f"{where}: a name is lower case letters, digits and '_'")
        if name in SHIPPED:
            raise AuthprobeError(f"{where} is a shipped one: give the step's timeout a name "
                                 "of its own (a shipped one is overridden with --set-timeout)")
        found[name] = seconds_value(value, where)
    return found


def declared_by(steps: list) -> dict[str, float]:
    """The timeouts lifecycle steps declare (``Step.timeouts``); one line on two steps
    giving one name different defaults."""
    found: dict[str, tuple[str, float]] = {}
    for step in steps:
        for name, value in step.timeouts.items():
            where = f"lifecycle step '{step.name}': timeout '{name}'"
            if name in found and found[name][1] != value:
                raise AuthprobeError(f"{where} is {value:g}s, and {found[name][1]:g}s in step "
                                     f"'{found[name][0]}': give one default or two names")
            found[name] = (step.name, value)
    return {name: value for name, (_, value) in found.items()}


def configure(overrides: Mapping[str, float], declared: Mapping[str, float]) -> Table:
    """Set the run's table; one line on an override of a name nobody declares. Returns the
    table it replaces."""
    global _active
    check_versions_file(version_table())
    known = set(SHIPPED) | set(declared)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise AuthprobeError(
            f"unknown timeout(s) {', '.join(unknown)}: the named ones are "
            f"{', '.join(sorted(known))} (see authprobe/model/timeouts.py)")
    previous, _active = _active, Table(dict(declared), dict(overrides))
    return previous


def restore(table: Table) -> None:
    global _active
    _active = table


def limit(name: str, version: KubeVersion) -> float:
    """The timeout named ``name`` at ``version``, in seconds."""
    return _active.limit(name, version)


def waits() -> Waits:
    return _active.waits()


def calls() -> Calls:
    return _active.calls()
