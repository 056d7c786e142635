"""`kubectl exec` over WebSocket: the upgrade is a GET, so RBAC asks for `get` on
pods/exec; from 1.35 (gate AuthorizePodWebsocketUpgradeCreatePermission, kubernetes#134577)
the apiserver also asks for `create`, as it does for the POST of SPDY exec. The apiserver's
audit record of the upgrade request says who it took it to be and what it answered."""

import json
import time

import kubernetes
from kubernetes.client.exceptions import ApiException
from kubernetes.stream import stream
from websocket import WebSocketBadStatusException

from authprobe.model.timeouts import calls, waits
from authprobe.scenario import answered
from authprobe.wait import until

USER = "exec-getter"
NAMESPACE = "kube-system"
# kube-proxy runs on every node of every minor, and its image has the one command needed.
TARGET_LABEL = "k8s-app=kube-proxy"
COMMAND = ["kube-proxy", "--version"]


class Answer:
    """The WebSocket handshake's status and headers, and what the command wrote."""

    def __init__(self, status: int, headers: dict, body: str) -> None:
        self.status = status
        self.headers = {k.lower(): v for k, v in (headers or {}).items()}
        self.body = body
        self.sent = self.answered = 0.0

    @property
    def audit_id(self) -> str | None:
        return self.headers.get("audit-id")


def exec_over_websocket(cluster, pod: str) -> Answer:
    sent = time.time()
    answer = _exec(cluster, pod)
    answer.sent, answer.answered = sent, time.time()
    return answer


def _exec(cluster, pod: str) -> Answer:
    core = kubernetes.client.CoreV1Api(cluster.api_as(USER))
    try:
        client = stream(core.connect_get_namespaced_pod_exec, pod, NAMESPACE, command=COMMAND,
                        stdout=True, stderr=True, stdin=False, tty=False,
                        _preload_content=False)
    except ApiException as err:
        refused = err.__context__
        if isinstance(refused, ConnectionError):
            raise refused from None  # the apiserver is restarting: `answered` asks again
        if not isinstance(refused, WebSocketBadStatusException):
            raise
        body = refused.resp_body.decode(errors="replace") if refused.resp_body else ""
        return Answer(refused.status_code, refused.resp_headers, body)
    try:
        client.run_forever(timeout=calls().exec_stream)
        return Answer(client.sock.getstatus(), client.sock.getheaders(), client.read_all())
    finally:
        client.close()


def running_target(cluster) -> str:
    """The name of a kube-proxy pod that runs on a node, polled for: right after bring-up
    its DaemonSet pod may not be scheduled yet (exec then answers 400 "pod does not have a
    host assigned")."""
    core = kubernetes.client.CoreV1Api(cluster.api)

    def running() -> str | None:
        pods = answered(lambda: core.list_namespaced_pod(NAMESPACE,
                                                         label_selector=TARGET_LABEL)).items
        return next((p.metadata.name for p in pods
                     if p.spec.node_name and p.status.phase == "Running"), None)

    return until(running, timeout=waits().exec_target, interval=2.0,
                 what=f"a running pod labelled {TARGET_LABEL} in {NAMESPACE}")


def message_of(answer: Answer, pod: str, version: str) -> str:
    """A refusal's Status message, or the command's output; the pod's name and the
    cluster's version (``v1.34.12``) written as <pod> and <version>."""
    text = answer.body.strip()
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        text = str(body.get("message", ""))
    return text.replace(pod, "<pod>").replace(version, "<version>")


def test_exec_with_get_only(cluster, observe, granted):
    """A user allowed only `get` on pods/exec execs into a pod over WebSocket: the upgrade
    (101) and the command's output up to 1.34; 403 from 1.35, where `create` is needed too.
    What it records is judged by its row, field by field (scenarios/observations.yaml)."""
    pod = running_target(cluster)
    with granted(USER, ["get"], "pods/exec", namespace=NAMESPACE):
        answer = answered(lambda: exec_over_websocket(cluster, pod))
    message = message_of(answer, pod, cluster.version.tag)
    observe(status=answer.status, message=message)
    observe.evidence(exec_output=answer.body.strip())
    # A 101 passes on the kubelet's headers, without the apiserver's Audit-Id: its record
    # is the one of this user's exec of this pod received while the handshake ran.
    observe.audit(
        cluster.audit.record_by_id(answer.audit_id) if answer.audit_id else
        cluster.audit.record_between(f"/pods/{pod}/exec", USER, answer.sent, answer.answered))
