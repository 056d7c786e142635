"""A team's access table: who may do what in its cluster, as data, each entry checked twice
on every cluster of the profile that names it (``rbac.access``).

    subjects:                                   # the table's names for who asks
      alice: {user: alice, groups: [team-a-devs]}
      devs: {group: team-a-devs}
      builder: {serviceAccount: team-a/builder}
    entries:
      - {subject: alice, verb: get, resource: pods, namespace: team-a, expect: allowed}
      - {subject: builder, verb: create, apiGroup: apps, resource: deployments,
         namespace: team-a, expect: allowed}
      - {subject: devs, verb: create, resource: pods/exec, namespace: team-a, name: web,
         expect: denied}
      - {subject: alice, verb: get, path: /metrics, expect: denied}
      - {subject: alice, verb: list, apiGroup: resource.k8s.io, resource: resourceclaims,
         namespace: team-b, expect: [{since: "1.19", value: denied},
                                     {since: "1.34", value: allowed}]}

Each entry is asked of kube-apiserver as a SubjectAccessReview and made as a real request
with a token the harness gets for its subject (a static token for a user, and for a member
of a group; a TokenRequest for a service account); the request's audit record says whom
kube-apiserver took it for. This module holds what is pure about it: the table, checked
before any cluster starts (a resource no minor serves is one line naming the entry), the
review's body, the request, and the verdicts.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import AuthprobeError
from .apiresources import ApiResources, group_text, shipped
from .versions import KubeVersion, Ranged
from .yamlfile import read_yaml

DECISIONS = ("allowed", "denied")
# The verbs of a resource entry: each has a request whose authorization is that verb's.
VERBS = ("get", "list", "watch", "create", "update", "patch", "delete")
# The verbs that address one object by name.
ONE_OBJECT = ("get", "update", "patch", "delete")
NON_RESOURCE_VERBS = ("get",)
METHODS = {"get": "GET", "list": "GET", "watch": "GET", "create": "POST", "update": "PUT",
           "patch": "PATCH", "delete": "DELETE"}
# The name the review and the request both give an entry that needs one and names none.
PLACEHOLDER_NAME = "authprobe-access-check"
AUTHENTICATED = "system:authenticated"
# The static-token users every cluster has (harness.render.TOKEN_USERS); an access table
# may not name them.
HARNESS_USERS = ("admin", "healthz-reader", "exec-getter", "monitor")
# Names the harness gives users of its own: a member of each group of the table, the user
# of the revocation scenario.
HARNESS_PREFIX = "authprobe-"
MEMBER_PREFIX = f"{HARNESS_PREFIX}member-of-"
REVOCATION_USER = f"{HARNESS_PREFIX}revocation"
SUBJECT_KINDS = ("user", "group", "serviceAccount")
ENTRY_KEYS = {"subject", "verb", "apiGroup", "resource", "namespace", "name", "path",
              "expect", "note"}
# What a token file line may hold (token,user,uid,"group,group").
PLAIN_NAME = re.compile(r'^[^\s,"]+$')
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


@dataclass(frozen=True)
class Identity:
    """A user and its groups, as kube-apiserver authenticates a request."""

    user: str
    groups: tuple[str, ...]

    def same_as(self, user: str | None, groups) -> bool:
        return user == self.user and set(groups or ()) == set(self.groups)

    def reads(self) -> str:
        return f"{self.user} (groups {', '.join(self.groups) or 'none'})"


@dataclass(frozen=True)
class Subject:
    """Who asks: a user with its groups, a member of a group, or a service account."""

    key: str  # the table's name for it
    kind: str  # one of SUBJECT_KINDS
    name: str
    namespace: str = ""  # a service account's
    groups: tuple[str, ...] = ()  # a user's

    @property
    def identity(self) -> Identity:
        """Whom kube-apiserver takes the subject's token for."""
        if self.kind == "serviceAccount":
            return Identity(f"system:serviceaccount:{self.namespace}:{self.name}",
                            ("system:serviceaccounts", f"system:serviceaccounts:{self.namespace}",
                             AUTHENTICATED))
        if self.kind == "group":
            return Identity(f"{MEMBER_PREFIX}{self.name}", (self.name, AUTHENTICATED))
        return Identity(self.name, tuple(dict.fromkeys((*self.groups, AUTHENTICATED))))

    @property
    def token_groups(self) -> tuple[str, ...] | None:
        """The groups of its static token's line (None: a service account, whose token a
        TokenRequest gives)."""
        if self.kind == "serviceAccount":
            return None
        return (self.name,) if self.kind == "group" else self.groups

    def reads(self) -> str:
        if self.kind == "serviceAccount":
            return f"service account {self.namespace}/{self.name}"
        return f"{self.kind} {self.name}"


@dataclass(frozen=True)
class Entry:
    """One row of the table: a subject, a verb, a resource (or a non-resource path), and the
    decision expected (by version: rows keyed by since)."""

    number: int  # its place in the table, from 1
    subject: Subject
    verb: str
    expect: Ranged  # since -> "allowed" | "denied"
    api_group: str = ""
    resource: str = ""  # as RBAC names it: pods, pods/exec
    namespace: str = ""
    name: str = ""
    path: str = ""  # a non-resource path
    namespaced: bool = False

    @property
    def label(self) -> str:
        """The entry in a line: subject, verb, what, which and where."""
        if self.path:
            return f"{self.subject.key} {self.verb} {self.path}"
        base, _, sub = self.resource.partition("/")
        what = base + (f".{self.api_group}" if self.api_group else "") + (f"/{sub}" if sub
                                                                          else "")
        return " ".join(part for part in (
            self.subject.key, self.verb, what, self.name,
            f"in {self.namespace}" if self.namespace else "") if part)

    @property
    def subresource(self) -> str:
        return self.resource.partition("/")[2]

    @property
    def object_name(self) -> str:
        """The name the review and the request give: the entry's, or for a verb or
        subresource that addresses one object, PLACEHOLDER_NAME."""
        if self.name or self.path:
            return self.name
        return PLACEHOLDER_NAME if (self.verb in ONE_OBJECT or self.subresource) else ""

    @property
    def review_namespace(self) -> str:
        """The namespace kube-apiserver authorizes the request in: a namespace is its own."""
        if self.api_group == "" and self.resource.partition("/")[0] == "namespaces":
            return self.object_name
        return self.namespace

    def expected_at(self, version: KubeVersion) -> str | None:
        """The decision the table expects on ``version`` (None: the entry starts later)."""
        found = self.expect.at(version)
        return found[1]["value"] if found else None


@dataclass(frozen=True)
class AccessTable:
    source: Path
    subjects: tuple[Subject, ...]
    entries: tuple[Entry, ...]

    def token_users(self) -> dict[str, tuple[str, ...]]:
        """user -> groups: a static token line each, for the users of the table, a member of
        each of its groups, and the revocation scenario's user."""
        found = {s.identity.user: s.token_groups for s in self.subjects
                 if s.token_groups is not None}
        found[REVOCATION_USER] = ()
        return found

    def service_accounts(self) -> list[Subject]:
        return [s for s in self.subjects if s.kind == "serviceAccount"]

    def audited_users(self) -> list[str]:
        """Every user the checks make requests as, whose requests the audit log records."""
        return sorted({*(s.identity.user for s in self.subjects), REVOCATION_USER})


class _Bad:
    def __init__(self, source: Path) -> None:
        self.source = source

    def __call__(self, where: str, what: str) -> AuthprobeError:
        return AuthprobeError(f"access table {self.source}: {where}: {what}")


def _plain(value: Any) -> bool:
    return isinstance(value, str) and bool(PLAIN_NAME.match(value))


def _subject(key: str, spec: Any, bad: _Bad) -> Subject:
    where = f"subject {key}"
    if not isinstance(spec, dict):
        raise bad(where, "must be a mapping: {user: NAME, groups: [...]}, {group: NAME} or "
                  "{serviceAccount: NAMESPACE/NAME}")
    kinds = [k for k in SUBJECT_KINDS if k in spec]
    if len(kinds) != 1 or set(spec) - {*SUBJECT_KINDS, "groups"}:
        raise bad(where, "give exactly one of user (with groups), group or serviceAccount")
    kind, name = kinds[0], spec[kinds[0]]
    groups = spec.get("groups") or []
    if "groups" in spec and kind != "user":
        raise bad(where, "only a user has groups; a group's member and a service account "
                  "get theirs from kube-apiserver")
    if not isinstance(groups, list) or not all(_plain(g) for g in [*groups, name]):
        raise bad(where, "names and groups are text without spaces, commas or quotes (each "
                  "goes into a static token file line)")
    if "system:unauthenticated" in [*groups, name]:
        raise bad(where, "system:unauthenticated is the group of requests without "
                  "credentials; a token's holder is never in it")
    if kind == "serviceAccount":
        namespace, _, account = name.partition("/")
        if not (DNS_LABEL.match(namespace) and DNS_LABEL.match(account)):
            raise bad(where, f"serviceAccount {name!r} must be NAMESPACE/NAME")
        return Subject(key, kind, account, namespace)
    if kind == "user" and (name in HARNESS_USERS or name.startswith(HARNESS_PREFIX)):
        raise bad(where, f"user {name} is one of authprobe's own ({', '.join(HARNESS_USERS)}, "
                  f"{HARNESS_PREFIX}*): give the table's user another name")
    if kind == "user" and name.startswith("system:serviceaccount:"):
        raise bad(where, "a service account is given as serviceAccount: NAMESPACE/NAME")
    return Subject(key, kind, name, groups=tuple(groups))


def _expect(spec: Any, where: str, bad: _Bad) -> Ranged:
    if isinstance(spec, str):
        spec = [{"since": "1.0", "value": spec}]

    def bad_rows(at: str, what: str) -> None:
        raise bad(where, f"expect{at.removeprefix('expect')}: {what}")

    if not isinstance(spec, list):
        raise bad(where, "expect must be allowed or denied, or rows [{since: MINOR, value: "
                  "allowed|denied}, ...]")
    ranged = Ranged.parse(spec, "expect", bad_rows)
    for since, row in ranged.rows:
        if set(row) != {"value"} or row["value"] not in DECISIONS:
            raise bad(where, f"expect since {since}: give value: allowed or denied")
    return ranged


def _entry(number: int, spec: Any, subjects: dict[str, Subject], resources: ApiResources,
           bad: _Bad) -> Entry:
    where = f"entry {number}"
    if not isinstance(spec, dict):
        raise bad(where, "must be a mapping with subject, verb, resource or path, and expect")
    unknown = sorted(set(spec) - ENTRY_KEYS)
    if unknown:
        raise bad(where, f"unknown key(s) {', '.join(unknown)}; an entry holds "
                  f"{', '.join(sorted(ENTRY_KEYS))}")
    key = spec.get("subject")
    if key not in subjects:
        raise bad(where, f"subject {key!r} is not among the table's subjects "
                  f"({', '.join(subjects) or 'none'}): add it under subjects")
    for name in ("verb", "apiGroup", "resource", "namespace", "name", "path"):
        if name in spec and not isinstance(spec[name], str):
            raise bad(where, f"{name} must be text")
    fields = {"verb": spec.get("verb", ""), "api_group": spec.get("apiGroup", ""),
              "resource": spec.get("resource", ""), "namespace": spec.get("namespace", ""),
              "name": spec.get("name", ""), "path": spec.get("path", "")}
    if "expect" not in spec:
        raise bad(where, "needs expect: allowed or denied")
    draft = Entry(number, subjects[key], expect=_expect(spec["expect"], where, bad), **fields)
    where = f"entry {number} ({draft.label})"
    if bool(draft.path) == bool(draft.resource):
        raise bad(where, "give either resource (with apiGroup, namespace, name) or a "
                  "non-resource path")
    if draft.path:
        return _non_resource(draft, where, bad)
    return _resource(draft, where, resources, bad)


def _non_resource(entry: Entry, where: str, bad: _Bad) -> Entry:
    if not entry.path.startswith("/"):
        raise bad(where, f"path {entry.path!r} must start with /")
    if entry.api_group or entry.namespace or entry.name:
        raise bad(where, "a non-resource path has no apiGroup, namespace or name")
    if entry.verb not in NON_RESOURCE_VERBS:
        raise bad(where, f"verb {entry.verb!r}: a non-resource path is checked with "
                  f"{', '.join(NON_RESOURCE_VERBS)}")
    return entry


def _resource(entry: Entry, where: str, resources: ApiResources, bad: _Bad) -> Entry:
    if entry.verb not in VERBS:
        raise bad(where, f"verb {entry.verb!r}: the access table checks {', '.join(VERBS)} "
                  "(each has a real request authorized as that verb)")
    if not resources.knows(entry.api_group, entry.resource):
        why, fix = resources.unknown(entry.api_group, entry.resource)
        raise bad(where, f"{why}: {fix}")
    namespaced = resources.is_namespaced(entry.api_group, entry.resource)
    is_namespace = entry.api_group == "" and entry.resource.partition("/")[0] == "namespaces"
    needs_one = entry.verb in ONE_OBJECT or bool(entry.subresource)
    if entry.verb in ("list", "watch") and entry.name:
        raise bad(where, f"a {entry.verb} names no object: leave name out")
    if entry.verb == "create" and not entry.subresource and entry.name:
        raise bad(where, "a create names no object (its name is in the body): leave name out")
    if is_namespace:
        if entry.namespace and entry.namespace != entry.name:
            raise bad(where, "a namespace's namespace is itself: leave namespace out")
        entry = Entry(**{**_fields(entry), "namespace": ""})
    elif not namespaced and entry.namespace:
        raise bad(where, f"{entry.resource} in {group_text(entry.api_group)} is not "
                  "namespaced: leave namespace out")
    elif namespaced and not entry.namespace and (needs_one or entry.verb == "create"):
        raise bad(where, f"{entry.resource} is namespaced and a {entry.verb} of it "
                  + ("addresses one object" if needs_one else "makes one")
                  + ": give the namespace")
    return Entry(**{**_fields(entry), "namespaced": namespaced})


def _fields(entry: Entry) -> dict:
    return {f: getattr(entry, f) for f in Entry.__dataclass_fields__}


def parse_table(data: Any, source: Path, resources: ApiResources | None = None) -> AccessTable:
    """The table as its file holds it; any problem is one line naming the subject or the
    entry and what to do."""
    bad = _Bad(source)
    resources = resources or shipped()
    if not isinstance(data, dict) or set(data) != {"subjects", "entries"}:
        raise bad("top level", "must be a mapping of subjects (the table's names for who asks) "
                  "and entries")
    if not isinstance(data["subjects"], dict) or not data["subjects"]:
        raise bad("subjects", "must map names to {user: ...}, {group: ...} or "
                  "{serviceAccount: ...}")
    subjects = {str(k): _subject(str(k), v, bad) for k, v in data["subjects"].items()}
    identities: dict[str, str] = {}
    for subject in subjects.values():
        user = subject.identity.user
        if user in identities:
            raise bad(f"subject {subject.key}", f"is the same as subject {identities[user]}: "
                      "give each user, group or service account once")
        identities[user] = subject.key
    if not isinstance(data["entries"], list) or not data["entries"]:
        raise bad("entries", "must be a list of entries")
    entries, labels = [], {}
    for number, spec in enumerate(data["entries"], 1):
        entry = _entry(number, spec, subjects, resources, bad)
        if entry.label in labels:
            raise bad(f"entry {number} ({entry.label})",
                      f"repeats entry {labels[entry.label]}: give each check once")
        labels[entry.label] = number
        entries.append(entry)
    return AccessTable(source, tuple(subjects.values()), tuple(entries))


def load_table(path: Path, resources: ApiResources | None = None) -> AccessTable:
    return parse_table(read_yaml(path, "access table"), path, resources)


# -- the two checks of an entry ------------------------------------------------------------


def review_body(entry: Entry) -> dict:
    """The SubjectAccessReview asking whether the entry's subject (as kube-apiserver
    authenticates its token) may do what the entry names, as the real request does it."""
    who = entry.subject.identity
    spec: dict[str, Any] = {"user": who.user, "groups": list(who.groups)}
    if entry.path:
        spec["nonResourceAttributes"] = {"path": entry.path, "verb": entry.verb}
    else:
        attributes = {"group": entry.api_group, "resource": entry.resource.partition("/")[0],
                      "subresource": entry.subresource, "namespace": entry.review_namespace,
                      "name": entry.object_name, "verb": entry.verb}
        spec["resourceAttributes"] = {k: v for k, v in attributes.items() if v}
    return {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": spec}


@dataclass(frozen=True)
class Request:
    """The real request of an entry: authorized as the entry's verb on its resource; one
    that would write is a dry run (``dryRun=All``) with an empty body, so an allowed one
    stores nothing."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: str | None = None
    content_type: str | None = None
    stream: bool = False  # a watch: its status is read, the stream closed

    def reads(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.params)
        return f"{self.method} {self.path}" + (f"?{query}" if query else "")


# The version of a group's path where the cluster does not serve the resource: kube-apiserver
# authorizes the path before it finds nothing there, and RBAC does not look at the version.
UNSERVED_VERSION = "v1"


def request_for(entry: Entry, version: str | None) -> Request:
    """The request that asks what the entry names; ``version`` the one the cluster serves
    the resource at (None: it serves it at none)."""
    if entry.path:
        return Request("GET", entry.path)
    base, _, sub = entry.resource.partition("/")
    prefix = ("/api/v1" if not entry.api_group
              else f"/apis/{entry.api_group}/{version or UNSERVED_VERSION}")
    where = (f"/namespaces/{entry.namespace}" if entry.namespaced and entry.namespace
             and base != "namespaces" else "")
    path = "/".join(part for part in (f"{prefix}{where}/{base}", entry.object_name, sub)
                    if part)
    verb = entry.verb
    if verb == "watch":
        # the server ends the watch after a second; the answer's status is all that counts
        return Request("GET", path, (("watch", "true"), ("timeoutSeconds", "1")), stream=True)
    if verb in ("get", "list"):
        return Request("GET", path)
    content = "application/merge-patch+json" if verb == "patch" else "application/json"
    return Request(METHODS[verb], path, (("dryRun", "All"),),
                   body=None if verb == "delete" else "{}",
                   content_type=None if verb == "delete" else content)


def verdict_of_status(status: int) -> str:
    """A real request's status as a decision: 403 denied; 401 unauthenticated (the token
    was not taken: no decision); anything else allowed (the handler answered after
    authorization let the request through)."""
    if status == 403:
        return "denied"
    return "unauthenticated" if status == 401 else "allowed"


def verdict_of_review(status: dict) -> str:
    return "allowed" if status.get("allowed") else "denied"


@dataclass(frozen=True)
class Checked:
    """An entry checked both ways on one cluster."""

    entry: Entry
    expected: str  # the table's decision at the cluster's version
    review: str  # the SubjectAccessReview's decision
    request: str  # the real request's (verdict_of_status)
    status: int  # the real request's status
    seen: Identity | None  # whom the request's audit record names (None: no user)
    served: bool = True  # the cluster's discovery lists the resource (a path: always)
    reason: str = ""  # the review's reason
    decision: str | None = None  # the request's audit decision (allow, forbid)
    sent: str = ""  # the request as sent

    def disagreement(self) -> str | None:
        """How the review and the request disagree (None: they agree): in the decision, or
        in whom kube-apiserver took the request for."""
        if self.review != self.request:
            return (f"the review says {self.review}, the request got {self.status} "
                    f"({self.request})")
        identity = self.entry.subject.identity
        if self.seen is None or not identity.same_as(self.seen.user, self.seen.groups):
            seen = self.seen.reads() if self.seen else "no user"
            return f"kube-apiserver took the request for {seen}, the review asked about " \
                   f"{identity.reads()}"
        return None

    @property
    def mismatched(self) -> bool:
        """The two agree, and not with the table."""
        return self.disagreement() is None and self.review != self.expected

    def to_dict(self) -> dict:
        found = asdict(self)
        found["entry"] = self.entry.label
        found["seen"] = self.seen.reads() if self.seen else None
        found["disagreement"] = self.disagreement()
        return found


def summary(checks: list[Checked]) -> dict[str, list[str]]:
    """What a cell records of its checks: the entries the two checks agree on against the
    table, those they disagree on, and those whose resource the cluster does not serve."""
    return {
        "access_mismatched": sorted(c.entry.label for c in checks if c.mismatched),
        "access_disagreed": sorted(c.entry.label for c in checks if c.disagreement()),
        "access_unserved": sorted(c.entry.label for c in checks if not c.served),
    }
