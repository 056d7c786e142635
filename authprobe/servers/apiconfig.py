"""Render the AuthenticationConfiguration and AuthorizationConfiguration files of a profile.

A profile declares the parts a team chooses (audiences, claim mappings, validation rules; the
authorizer chain, the webhook's match conditions and failure policy) in the upstream field
names; these functions add what the run knows (the issuer's URL and CA, the webhook's
kubeconfig path) and the ``apiVersion`` the cluster's minor takes, from
``clusters/apiserver-config.yaml``. A field the minor's types do not have yet is one line
before any cluster starts, unless ``check=False`` (for a profile whose point is a file the
minor refuses, or a file kept as written for an older minor).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import yaml

from ..errors import AuthprobeError
from ..model.versions import KubeVersion, Ranged
from ..paths import clusters_dir

AUTHENTICATION = "AuthenticationConfiguration"
AUTHORIZATION = "AuthorizationConfiguration"
KINDS = (AUTHENTICATION, AUTHORIZATION)
AUTHORIZER_TYPES = ("Node", "RBAC", "Webhook", "ABAC", "AlwaysAllow", "AlwaysDeny")
FILE = "apiserver-config.yaml"


@dataclass(frozen=True)
class ConfigApi:
    """What a minor takes for one kind of file."""

    kind: str
    api_version: str  # the one authprobe writes: the newest the minor serves
    served: tuple[str, ...]  # every version of apiserver.config.k8s.io the minor decodes
    stage: str
    gate: str | None  # a feature gate the file needs turned on, or None
    since: KubeVersion


@dataclass(frozen=True)
class KindFacts:
    api: Ranged
    limits: Ranged | None
    fields: dict[str, KubeVersion]


@functools.cache
def _facts() -> tuple[dict[str, KindFacts], dict]:
    path = clusters_dir() / FILE
    data = yaml.safe_load(path.read_text())

    def bad(where: str, what: str):
        raise AuthprobeError(f"{path}: {where}: {what}")

    kinds = {}
    for kind in KINDS:
        section = data[kind]
        limits = section.get("limits")
        kinds[kind] = KindFacts(
            Ranged.parse(section["api"], f"{kind}.api", bad),
            Ranged.parse(limits, f"{kind}.limits", bad) if limits else None,
            {name: KubeVersion.parse(str(since)) for name, since in section["fields"].items()})
    return kinds, dict(data["webhook_defaults"])


def config_api(kind: str, version: KubeVersion) -> ConfigApi:
    """The apiVersion, served versions, stage and gate of ``kind`` files on ``version``; a
    minor before the kind existed is one line."""
    facts = _facts()[0][kind]
    found = facts.api.at(version)
    if found is None:
        raise AuthprobeError(f"Kubernetes {version.minor_str} has no {kind} (alpha in "
                             f"{facts.api.first}); run this profile on {facts.api.first} or "
                             "later")
    since, row = found
    return ConfigApi(kind, row["write"], tuple(row["served"]), row["stage"], row["gate"], since)


def missing_fields(kind: str, document: dict, version: KubeVersion) -> list[str]:
    """Lines naming each field of ``document`` (without apiVersion/kind) that the types of
    ``version`` lack: unknown to every minor, or added in a later one."""
    fields = _facts()[0][kind].fields
    lines: list[str] = []

    def walk(value: Any, path: str, shown: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                child, child_shown = (f"{path}.{key}" if path else key,
                                      f"{shown}.{key}" if shown else key)
                since = fields.get(child)
                if since is None:
                    lines.append(f"{kind} has no field {child_shown}")
                elif since > version.as_minor:
                    lines.append(f"{kind} field {child_shown} is in Kubernetes {since} and "
                                 f"later, not in {version.minor_str}")
                else:
                    walk(item, child, child_shown)
        elif isinstance(value, list) and any(name.startswith(f"{path}[].") for name in fields):
            for index, item in enumerate(value):
                walk(item, f"{path}[]", f"{shown}[{index}]")

    walk(document, "", "")
    return lines


def _check(kind: str, body: dict, version: KubeVersion) -> None:
    lines = missing_fields(kind, body, version)
    if lines:
        more = f" (and {len(lines) - 1} more)" if len(lines) > 1 else ""
        raise AuthprobeError(f"{lines[0]}{more}: take it out of the profile, or run the "
                             "profile on a minor that has it")


def jwt_authenticator(issuer_url: str, certificate_authority: str, spec: dict) -> dict:
    """One ``jwt`` entry: the profile's ``spec`` (its ``issuer`` part without ``url`` and
    ``certificateAuthority``, its claimMappings, claimValidationRules, userValidationRules)
    with the issuer's URL and CA PEM filled in."""
    issuer_part = dict(spec.get("issuer") or {})
    given = sorted({"url", "certificateAuthority"} & set(issuer_part))
    if given:
        raise AuthprobeError(f"jwt issuer {', '.join(given)}: the harness fills these from the "
                             "cluster's issuer; leave them out of the profile")
    if not issuer_part.get("audiences"):
        raise AuthprobeError("jwt issuer audiences: a jwt authenticator needs at least one "
                             "audience; list the audiences its tokens carry")
    if "claimMappings" not in spec:
        raise AuthprobeError("jwt claimMappings: a jwt authenticator needs at least the "
                             "username mapping (claimMappings.username)")
    entry = {"issuer": {"url": issuer_url, "certificateAuthority": certificate_authority,
                        **issuer_part}}
    entry.update({key: value for key, value in spec.items() if key != "issuer"})
    return entry


def authentication_configuration(version: KubeVersion, jwt: list[dict], *,
                                 anonymous: dict | None = None, api_version: str | None = None,
                                 check: bool = True) -> dict:
    """The AuthenticationConfiguration file for ``version``: its ``jwt`` entries (from
    :func:`jwt_authenticator`) and, where given, the ``anonymous`` block. ``api_version``
    overrides the one the minor takes (a file written for another minor)."""
    body: dict = {"jwt": list(jwt)}
    if anonymous is not None:
        body["anonymous"] = anonymous
    api = config_api(AUTHENTICATION, version)
    if check:
        _check(AUTHENTICATION, body, version)
        limits = _facts()[0][AUTHENTICATION].limits.at(version)[1]
        if len(jwt) > limits["jwt"]:
            raise AuthprobeError(f"{AUTHENTICATION} of Kubernetes {version.minor_str} takes at "
                                 f"most {limits['jwt']} jwt authenticators, the profile has "
                                 f"{len(jwt)}")
        for entry in jwt:
            audiences = entry["issuer"].get("audiences") or []
            if limits["audiences"] is not None and len(audiences) > limits["audiences"]:
                raise AuthprobeError(f"{AUTHENTICATION} of Kubernetes {version.minor_str} "
                                     f"takes {limits['audiences']} audience per issuer, the "
                                     f"profile lists {len(audiences)}")
    return {"apiVersion": api_version or api.api_version, "kind": AUTHENTICATION, **body}


def webhook_authorizer(name: str, kubeconfig_file: str, spec: dict | None = None) -> dict:
    """A ``Webhook`` authorizer entry reaching the webhook through ``kubeconfig_file`` (its
    path as kube-apiserver sees it, in the node); the profile's ``spec`` (timeout, TTLs,
    failurePolicy, matchConditions, ...) over ``webhook_defaults``."""
    spec = dict(spec or {})
    if "connectionInfo" in spec:
        raise AuthprobeError(f"webhook {name} connectionInfo: the harness writes it (the "
                             "kubeconfig of the cluster's webhook); leave it out of the profile")
    webhook = {**_facts()[1], **spec,
               "connectionInfo": {"type": "KubeConfigFile", "kubeConfigFile": kubeconfig_file}}
    return {"type": "Webhook", "name": name, "webhook": webhook}


def authorizer(kind: str, name: str | None = None) -> dict:
    """A chain entry without settings: ``Node``, ``RBAC`` (named after the type in lower
    case unless ``name`` is given)."""
    if kind not in AUTHORIZER_TYPES or kind == "Webhook":
        raise AuthprobeError(f"authorizer type {kind!r}: write one of "
                             f"{', '.join(t for t in AUTHORIZER_TYPES if t != 'Webhook')} here "
                             "(a webhook is made by webhook_authorizer)")
    return {"type": kind, "name": name or kind.lower()}


def authorization_configuration(version: KubeVersion, authorizers: list[dict], *,
                                api_version: str | None = None, check: bool = True) -> dict:
    """The AuthorizationConfiguration file for ``version``: the ordered ``authorizers``
    chain (entries from :func:`authorizer` and :func:`webhook_authorizer`)."""
    body = {"authorizers": list(authorizers)}
    api = config_api(AUTHORIZATION, version)
    if check:
        _check(AUTHORIZATION, body, version)
        names = [entry.get("name") for entry in authorizers]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise AuthprobeError(f"{AUTHORIZATION}: authorizer names {repeated} repeat; give "
                                 "each authorizer its own name")
    return {"apiVersion": api_version or api.api_version, "kind": AUTHORIZATION, **body}


def to_yaml(document: dict) -> str:
    """The file's text, fields in the order rendered."""
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
