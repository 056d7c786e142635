"""The AuthenticationConfiguration reloaded without a restart: the cluster's file is replaced
where kube-apiserver reads it (the cluster's auth folder, mounted into the node and the
kube-apiserver pod), and the new behaviour is waited for within the reload period
(``config_reload``): an issuer added, that issuer's mapping changed, and a change of the
``anonymous`` block, which kube-apiserver refuses to reload (it keeps the configuration in
force, logs the refusal and counts a failed reload: the block takes a restart).

Each scenario reads kube-apiserver's own record: the user its audit log names for the
request, its reload metrics (``apiserver_authentication_config_controller_*``: the reloads
counted by status, from 1.34 the hash of the file in force), its log line refusing a file,
and its container's life before and after (the mirror pod's restartCount and container ID,
the container the runtime runs), which must be the same container throughout. The added
issuer is a second server of the cluster, stopped with it, whose log shows kube-apiserver
fetching its discovery document and keys after the reload. Every scenario puts the original
file back and waits until kube-apiserver has taken it, so the cluster's other scenarios meet
the file it was made with. What each records is judged by its row
(scenarios/observations.yaml)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import contextmanager

import yaml

from authprobe.harness.reload import (
    config_in_force,
    file_hash,
    refusal_lines,
    refusal_reason,
    reload_record,
    same_life,
)
from authprobe.harness.servers import SELF_SUBJECT_REVIEW_PATH
from authprobe.model.profiles import AUTHENTICATION_FILE
from authprobe.model.timeouts import waits
from authprobe.scenario import answered, self_subject_review, status_message
from authprobe.servers import apiconfig
from authprobe.wait import until

# The issuer a scenario adds: its path on its own port, the audience its tokens carry, and
# the username prefixes its mapping gives, first and after the change.
ADDED_ISSUER = "reload"
ADDED_AUDIENCE = "authprobe-config-reload"
PREFIX_ADDED = "reload-a:"
PREFIX_CHANGED = "reload-b:"
SUBJECT = "alice"
# The anonymous block a reload cannot bring in: the story's fix (anonymous only on the
# health endpoints), which on a restart would make "/" answer 401.
ANONYMOUS_HEALTH_ONLY = {"enabled": True,
                         "conditions": [{"path": "/livez"}, {"path": "/readyz"},
                                        {"path": "/healthz"}]}
# Lines of kube-apiserver's log read for its refusal of a file (it logs little else).
LOG_LINES = 400


def with_added_issuer(original: str, issuer_url: str, prefix: str) -> str:
    """The cluster's AuthenticationConfiguration text with one more jwt authenticator: the
    added issuer (trusted through the first issuer's CA), its own audience, usernames from
    ``sub`` with ``prefix``."""
    document = yaml.safe_load(original)
    ca = document["jwt"][0]["issuer"]["certificateAuthority"]
    document["jwt"].append(apiconfig.jwt_authenticator(issuer_url, ca, {
        "issuer": {"audiences": [ADDED_AUDIENCE]},
        "claimMappings": {"username": {"claim": "sub", "prefix": prefix}}}))
    return apiconfig.to_yaml(document)


def with_anonymous(original: str, anonymous: dict) -> str:
    """The cluster's AuthenticationConfiguration text with an ``anonymous`` block."""
    return apiconfig.to_yaml({**yaml.safe_load(original), "anonymous": anonymous})


def review(cluster, issuer: str | None = None, audience: str | None = None):
    """A SelfSubjectReview with a fresh token for SUBJECT (of the added issuer when
    ``issuer`` is given): the answer and the username it names (None unless 201). Each call
    mints a new token, so kube-apiserver's cache of authenticated tokens never answers it."""
    token = cluster.jwt(SUBJECT, groups=[], issuer=issuer, audience=audience)
    response = self_subject_review(cluster, token)
    user = (response.json()["status"]["userInfo"].get("username")
            if response.status_code == 201 else None)
    return response, user


def review_added(cluster):
    return review(cluster, issuer=ADDED_ISSUER, audience=ADDED_AUDIENCE)


def mapped_to(cluster, username: str) -> Callable[[], object]:
    """A condition: a fresh token of the added issuer is taken for ``username`` (its
    SelfSubjectReview's answer, else None)."""

    def check():
        response, user = review_added(cluster)
        return response if user == username else None

    return check


def reloads(cluster):
    return reload_record(cluster.apiserver_metrics())


def take(cluster, text: str, taken: Callable[[], object], what: str) -> tuple[float, object]:
    """Replace the file with ``text`` and wait until ``taken`` returns a truthy value: the
    seconds from the replacement and that value."""
    cluster.replace_auth_file(AUTHENTICATION_FILE, text)
    start = time.monotonic()
    value = until(taken, timeout=waits().config_reload, interval=1.0, what=what)
    return round(time.monotonic() - start, 1), value


def counted(cluster, before, status: str):
    """Wait until kube-apiserver's metrics count one more reload of ``status`` than
    ``before``; the record then."""
    last = {}

    def more():
        last["record"] = reloads(cluster)
        return last["record"].since(before)[status] >= 1

    until(more, timeout=waits().config_reload, interval=1.0,
          what=f"kube-apiserver counting a {status} reload of its authentication config",
          state=lambda: f"{last['record'].since(before)} since the change" if last else "")
    return last["record"]


@contextmanager
def original_kept(cluster, observe, back: Callable[[], bool]):
    """Around a scenario that changes the file: its original text, put back at the end
    (whatever happened) and waited for until kube-apiserver counts the reload of it and
    ``back`` holds (the original behaviour); kube-apiserver's container the same
    throughout."""
    original = cluster.auth_file(AUTHENTICATION_FILE)
    life = cluster.apiserver_life()
    try:
        yield original
    finally:
        before = reloads(cluster)
        if file_hash(cluster.auth_file(AUTHENTICATION_FILE)) != file_hash(original):
            took, _ = take(cluster, original,
                           lambda: back() and reloads(cluster).since(before)["success"] >= 1,
                           "kube-apiserver back on the cluster's own authentication config")
            observe.evidence(restored_seconds=took)
    after = cluster.apiserver_life()
    observe(restarts_during=after.restart_count - life.restart_count)
    observe.evidence(apiserver_before=life.to_dict(), apiserver_after=after.to_dict())
    assert same_life(life, after), (
        f"kube-apiserver's container changed while its config was reloaded: before "
        f"{life.to_dict()}, after {after.to_dict()}")


def added_refused(cluster) -> bool:
    return review_added(cluster)[0].status_code == 401


def observe_taken(cluster, observe, response, before, original: str, text: str) -> None:
    """What the reload that was just seen did: the answer and its audit record, the reloads
    counted since ``before``, and which file the configuration in force is."""
    after = counted(cluster, before, "success")
    observe(path=SELF_SUBJECT_REVIEW_PATH, status=response.status_code,
            review_user=response.json()["status"]["userInfo"].get("username"),
            reloads=after.since(before), config_in_force=config_in_force(after, text, original))
    observe.audit(cluster.audit.record_of(response))


def reloaded_to(cluster, observe, text: str, prefix: str, previous: str) -> None:
    """Write ``text`` in place of ``previous`` and wait until a token of the added issuer is
    taken for ``prefix`` + SUBJECT: how long it took, and kube-apiserver's record of the
    reload."""
    before = reloads(cluster)
    took, response = take(cluster, text, mapped_to(cluster, prefix + SUBJECT),
                          f"a token of the added issuer taken for {prefix}{SUBJECT}")
    observe(reload_seconds=took)
    observe_taken(cluster, observe, response, before, previous, text)


def test_reload_issuer_added(cluster, expected, observe):
    url = cluster.add_issuer(ADDED_ISSUER)
    with original_kept(cluster, observe, back=lambda: added_refused(cluster)) as original:
        refused, _ = review_added(cluster)
        observe(status_before=refused.status_code)
        observe.evidence(refused_before=cluster.audit.record_of(refused).to_dict())
        served_before = len(cluster.added_issuer_log(ADDED_ISSUER))
        reloaded_to(cluster, observe, with_added_issuer(original, url, PREFIX_ADDED),
                    PREFIX_ADDED, original)
        served = cluster.added_issuer_log(ADDED_ISSUER)[served_before:]
        observe.evidence(added_issuer_served=served)
        # kube-apiserver found the added issuer itself: its discovery document and keys.
        assert {"discovery", "jwks"} <= {r.get("served") for r in served}, (
            f"the added issuer served no discovery document or keys after the reload: {served}")


def test_reload_mapping_changed(cluster, expected, observe):
    url = cluster.add_issuer(ADDED_ISSUER)
    with original_kept(cluster, observe, back=lambda: added_refused(cluster)) as original:
        added = with_added_issuer(original, url, PREFIX_ADDED)
        _, first = take(cluster, added, mapped_to(cluster, PREFIX_ADDED + SUBJECT),
                        f"a token of the added issuer taken for {PREFIX_ADDED}{SUBJECT}")
        observe(status_before=first.status_code,
                review_user_before=first.json()["status"]["userInfo"].get("username"))
        reloaded_to(cluster, observe, with_added_issuer(original, url, PREFIX_CHANGED),
                    PREFIX_CHANGED, added)


def failed_since(cluster, before) -> Callable[[], object]:
    """A condition: kube-apiserver counts a failed reload since ``before`` (its record)."""

    def check():
        record = reloads(cluster)
        return record if record.since(before)["failure"] >= 1 else None

    return check


def anonymous_root(cluster):
    return answered(lambda: cluster.anonymous.get("/"))


def test_reload_anonymous_refused(cluster, expected, observe):
    with original_kept(cluster, observe, back=lambda: True) as original:
        observe(status_before=anonymous_root(cluster).status_code)
        refusals_before = set(refusal_lines(cluster.apiserver_log(LOG_LINES)))
        text = with_anonymous(original, ANONYMOUS_HEALTH_ONLY)
        before = reloads(cluster)
        took, after = take(cluster, text, failed_since(cluster, before),
                           "kube-apiserver counting a failed reload of its authentication "
                           "config")
        refusals = [line for line in refusal_lines(cluster.apiserver_log(LOG_LINES))
                    if line not in refusals_before]
        observe.evidence(refusal_lines=refusals)
        assert refusals, "kube-apiserver counted a failed reload but logged no refusal"
        # The configuration in force is still the original: anonymous requests answer as
        # before, not as the refused block would have them.
        response = anonymous_root(cluster)
        observe(path="/", status=response.status_code, message=status_message(response),
                reload_seconds=took, reloads=after.since(before),
                reload_refusal=refusal_reason(refusals[-1]),
                config_in_force=config_in_force(after, text, original))
        observe.audit(cluster.audit.record_of(response))
