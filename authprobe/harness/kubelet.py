"""The kubelet's own door, port 10250, and the record behind each of its answers.

The harness reaches the port as it reaches the apiserver's: Docker publishes it on
127.0.0.1 (``render.KUBELET_PORT``). TLS is verified against the kubelet's serving
certificate, which kubeadm leaves self-signed (``/var/lib/kubelet/pki/kubelet.crt``: the
certificate and the CA that signed it); it is read from the node and pinned for this
cluster, and the name checked is the node's, the one name the certificate holds.

The kubelet itself records little of a decision at the verbosity the harness runs it (1):
nothing for a 401, a denial only from verbosity 2 ("Forbidden"), each request only from 3;
its metrics count requests per path, with neither user nor answer. What it does log at
every verbosity are its webhooks' errors ("Unable to authenticate the request due to an
error", "Authorization error"). So the record behind a kubelet answer is the apiserver's
audit of the reviews the kubelet asks it for: TokenReviews (webhook authentication) and
SubjectAccessReviews (webhook authorization) made as ``system:node:<node>``, matched to the
request in time and by the node and user reviewed.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import requests
from requests.adapters import HTTPAdapter

from ..errors import AuthprobeError
from ..host.docker import docker
from ..model.timeouts import calls, waits
from ..wait import until
from .access import HttpClient, NodeAccess
from .audit import AuditLog, epoch_of
from .naming import write_private
from .readiness import UNREACHABLE
from .render import KUBELET_PORT

SERVING_CERT = "/var/lib/kubelet/pki/kubelet.crt"
# The kubelet's own log lines when a webhook could not be asked (the apiserver was away).
WEBHOOK_ERRORS = ("Unable to authenticate the request", "Authorization error")
REVIEWS = {"subjectaccessreviews": "SubjectAccessReview", "tokenreviews": "TokenReview"}
# Slack around a request when matching the reviews it caused: one clock (the node is a
# container on this host), so only the audit log's rounding to microseconds.
SLACK = 0.01
# How long the kubelet keeps a webhook's answer instead of asking again: kubeadm writes 0s,
# which the kubelet takes as its defaults (its /configz shows them). Within these, the
# record behind an answer is the earlier review the kubelet still holds.
KEEPS_ALLOWED = 300.0
KEEPS_DENIED = 30.0


def published_port(container: str, port: int = KUBELET_PORT) -> int:
    """The host port Docker publishes ``port`` of the node on; it must be on 127.0.0.1."""
    result = docker("port", container, f"{port}/tcp", timeout=calls().host_query)
    lines = [line.strip() for line in result.stdout.splitlines() if line.strip()]
    if result.returncode or not lines:
        raise AuthprobeError(f"node {container} publishes no port {port}: "
                             f"{(result.stderr or result.stdout).strip() or 'no mapping'}")
    for line in lines:
        host, _, number = line.rpartition(":")
        if host == "127.0.0.1" and number.isdigit():
            return int(number)
    raise AuthprobeError(f"node {container} publishes port {port} on {', '.join(lines)}, "
                         "not on 127.0.0.1")


class _NodeName(HTTPAdapter):
    """Sends the node's name as SNI and checks the certificate against it, whatever the
    address connected to."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        kwargs["server_hostname"] = self.name
        kwargs["assert_hostname"] = self.name
        return super().init_poolmanager(*args, **kwargs)


class KubeletClient:
    """requests to the kubelet's port; ``token`` None means no credentials at all."""

    def __init__(self, port: int, node_name: str, ca_path: Path, token: str | None = None,
                 user: str = "anonymous") -> None:
        self.base = f"https://127.0.0.1:{port}"
        self.user = user
        self.has_token = token is not None
        self.session = requests.Session()
        self.session.trust_env = False
        self.session.verify = str(ca_path)
        self.session.mount("https://", _NodeName(node_name))
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str) -> requests.Response:
        if not path.startswith("/"):
            raise ValueError(f"path must start with '/': {path!r}")
        return self.session.get(self.base + path, timeout=calls().http_request,
                                allow_redirects=False)

    def __repr__(self) -> str:
        return f"KubeletClient(user={self.user!r}, base={self.base!r})"


@dataclass(frozen=True)
class Review:
    """One review the kubelet asked the apiserver for, as the audit log recorded it."""

    kind: str  # SubjectAccessReview or TokenReview
    audit_id: str
    time: str  # when the apiserver received it
    code: int | None  # the review request's own status (201)
    user: str | None = None  # a SubjectAccessReview's subject; a TokenReview's is not logged
    groups: list[str] = field(default_factory=list)
    verb: str | None = None
    resource: str | None = None
    subresource: str | None = None
    name: str | None = None
    allowed: bool | None = None
    reason: str = ""
    held: bool = False  # made for an earlier request; the kubelet answered from its cache

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_event(cls, event: dict) -> Review:
        resource = (event.get("objectRef") or {}).get("resource", "")
        base = {"kind": REVIEWS[resource], "audit_id": event.get("auditID", ""),
                "time": event.get("requestReceivedTimestamp", ""),
                "code": (event.get("responseStatus") or {}).get("code")}
        if resource != "subjectaccessreviews":
            return cls(**base)
        spec = (event.get("requestObject") or {}).get("spec") or {}
        attrs = spec.get("resourceAttributes") or {}
        status = (event.get("responseObject") or {}).get("status") or {}
        return cls(**base, user=spec.get("user"), groups=list(spec.get("groups") or []),
                   verb=attrs.get("verb"), resource=attrs.get("resource"),
                   subresource=attrs.get("subresource"), name=attrs.get("name"),
                   allowed=bool(status.get("allowed")), reason=status.get("reason", ""))


def reviews_by(audit: AuditLog, node_name: str, start: float, end: float) -> list[Review]:
    """The reviews the kubelet of ``node_name`` asked for between ``start`` and ``end``
    (epoch seconds), oldest first; only the SubjectAccessReviews about that node."""
    found = []
    for event in audit.grep(f'"username":"system:node:{node_name}"'):
        resource = (event.get("objectRef") or {}).get("resource")
        if resource not in REVIEWS or event.get("stage") != "ResponseComplete":
            continue
        at = epoch_of(event.get("requestReceivedTimestamp", ""))
        if at is None or not start - SLACK <= at <= end + SLACK:
            continue
        review = Review.from_event(event)
        if review.kind == "SubjectAccessReview" and review.name not in (None, "", node_name):
            continue
        found.append(review)
    return sorted(found, key=lambda r: r.time)


@dataclass
class KubeletAnswer:
    """A kubelet's answer and the reviews behind it: those it asked for while answering
    (``reviews``) and, for a decision it still held, those it asked for before
    (``earlier``, the last KEEPS_ALLOWED seconds)."""

    response: requests.Response
    reviews: list[Review]
    sent: float
    answered: float
    earlier: list[Review] = field(default_factory=list)

    def asked_about(self, user: str) -> list[Review]:
        """The SubjectAccessReviews about ``user`` behind the answer: those asked for while
        answering; when there are none, the latest earlier one of each subresource that the
        kubelet still held (an allow 5 min, a denial 30 s), marked ``held``."""
        now = [r for r in self.reviews if r.kind == "SubjectAccessReview" and r.user == user]
        if now:
            return now
        held: dict[str, Review] = {}
        for review in self.earlier:
            age = self.sent - (epoch_of(review.time) or 0.0)
            keeps = KEEPS_ALLOWED if review.allowed else KEEPS_DENIED
            if (review.kind == "SubjectAccessReview" and review.user == user
                    and age <= keeps):
                held[review.subresource or ""] = replace(review, held=True)
        return sorted(held.values(), key=lambda r: r.time)


class KubeletDoor:
    """The kubelet of one cluster's node, reached from this host. ``marker`` is a client
    of the apiserver whose audited request, made after a kubelet answer, shows that the
    audit log holds everything before it."""

    def __init__(self, node: NodeAccess, audit: AuditLog | None, ca_path: Path,
                 marker: HttpClient) -> None:
        self.node = node
        self.audit = audit
        self.ca_path = ca_path
        self.marker = marker
        self._port: int | None = None

    @property
    def node_name(self) -> str:
        return self.node.container  # kind names the node after its container

    def client(self, token: str | None = None, user: str = "anonymous") -> KubeletClient:
        if self._port is None:
            write_private(self.ca_path, self.node.read(SERVING_CERT))
            self._port = published_port(self.node.container)
        return KubeletClient(self._port, self.node_name, self.ca_path, token, user)

    def webhook_errors(self, since: float) -> list[str]:
        """The kubelet's own log lines since ``since`` saying a webhook could not be asked."""
        result = self.node.exec("journalctl", "-u", "kubelet", "--no-pager", "-o", "cat",
                                "--since", f"@{int(since) - 1}", check=False,
                                timeout=calls().node_read)
        return [line for line in result.stdout.splitlines()
                if any(marker in line for marker in WEBHOOK_ERRORS)]

    def get(self, client: KubeletClient, path: str) -> KubeletAnswer:
        """GET ``path`` and collect the reviews the kubelet asked for meanwhile."""
        if self.audit is None:
            raise AuthprobeError("this cluster has no audit log: the kubelet's reviews "
                                 "cannot be read")
        sent = time.time()
        response = client.get(path)
        answered = time.time()
        self._settle()
        return KubeletAnswer(response, reviews_by(self.audit, self.node_name, sent, answered),
                             sent, answered,
                             reviews_by(self.audit, self.node_name, sent - KEEPS_ALLOWED,
                                        sent - SLACK))

    def _settle(self) -> None:
        """Wait until the audit log records a request made after the kubelet answered: the
        reviews the kubelet asked for before answering are written by then."""
        marked = until(lambda: self.marker.get("/readyz"), timeout=waits().apiserver_back,
                       interval=2.0, retry_on=UNREACHABLE, what="an answer from kube-apiserver")
        self.audit.record_of(marked)
