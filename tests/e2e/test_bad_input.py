"""Bad input for the cluster's servers, on real clusters: each profile's cells say what is
wrong in one line, and the run leaves nothing (no cluster, no process naming one, the servers'
ports closed).

The profiles are test inputs (tests/e2e/data/bad-input, passed as a team passes its own
folder of profiles, with their rows): an issuer kube-apiserver cannot reach
(``issuer-unreachable``), an issuer whose JWKS does not hold its signing key
(``jwks-mismatched``), an AuthorizationConfiguration whose CEL does not compile
(``match-condition-typo``: kube-apiserver's own log line refusing it), and a field no minor
has (``issuer-field-typo``: authprobe's line before any cluster starts). Two runs of at most
two clusters each.
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from .conftest import (
    DATA,
    VERSION,
    Child,
    child_env,
    created,
    left_of,
    leftovers,
    outcomes_of,
    stop,
)

pytestmark = pytest.mark.e2e

BAD = DATA / "bad-input"
# The wait for an accepted token, shortened: kube-apiserver retries its issuer every 10 s.
JWT_WAIT = 40
URL = re.compile(r"https://([0-9.]+):(\d+)")


def bad_input_run(folder, *profiles: str) -> Child:
    child = Child(["-q", "-p", "no:randomly", "--reports-dir", str(folder / "reports"),
                   "--pyargs", "authprobe.scenarios", "--k8s-version", VERSION,
                   "--profile", ",".join(profiles),
                   "--profiles-dir", str(BAD / "profiles"),
                   "--expectations", str(BAD / "expectations.yaml"),
                   "--set-timeout", f"jwt_authenticator={JWT_WAIT}",
                   "-k", "control_plane_comes_up"], folder, child_env()).start()
    started = time.monotonic()
    try:
        child.wait(timeout=1800)
    finally:
        stop(child)
    print(f"bad-input run of {', '.join(profiles)}: exit {child.proc.returncode} in "
          f"{time.monotonic() - started:.0f}s")
    return child


@pytest.fixture(scope="module")
def issuer_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-issuer")
    child = bad_input_run(folder, "issuer-unreachable", "jwks-mismatched")
    return folder, child


@pytest.fixture(scope="module")
def refused_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad-config")
    child = bad_input_run(folder, "match-condition-typo", "issuer-field-typo")
    return folder, child


def the_cell(outcomes: dict, profile: str) -> dict:
    [cell] = [c for c in outcomes["cells"] if c["profile"] == profile]
    return cell


def closed(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex((host, port)) != 0


def server_ports(outcomes: dict, name: str) -> list[tuple[str, int]]:
    """Where the servers of cluster ``name`` listened, as its phase 'servers' said."""
    [phase] = [p for p in outcomes["phases"] if p["cluster"] == name and p["phase"] == "servers"]
    return [(host, int(port)) for host, port in URL.findall(phase["message"])]


def assert_nothing_left(child: Child, outcomes: dict) -> None:
    names = created(child)
    assert names, child.tail()
    left = leftovers(names)
    assert not any(left.values()), left
    for name in names:
        ports = server_ports(outcomes, name)
        assert ports, name
        assert all(closed(host, port) for host, port in ports), (name, ports)


def jwt_line(folder, profile: str) -> str:
    """The cell of ``profile`` errors with one line, the start of its step 'jwt''s line; the
    whole line, as the phase says it."""
    outcomes = outcomes_of(folder)
    cell = the_cell(outcomes, profile)
    assert cell["outcome"] == "error" and "\n" not in cell["message"], cell
    [phase] = [p for p in outcomes["phases"]
               if p["cluster"].startswith(f"authprobe-{profile}-") and p["phase"] == "jwt"]
    assert phase["outcome"] == "failed" and "\n" not in phase["message"], phase
    head = cell["message"].split("step 'jwt' failed: ", 1)[1].rstrip("\u2026")
    assert phase["message"].startswith(head), (cell["message"], phase["message"])
    assert any(phase["message"] in problem for problem in outcomes["run"]["problems"])
    return phase["message"]


def test_an_issuer_kube_apiserver_cannot_reach_is_one_line_naming_it(issuer_run):
    """kube-apiserver comes up and answers the issuer's tokens 401 (its JWT authenticator
    cannot fetch the discovery document); the wait for an accepted token ends with one line
    naming the issuer, its discovery URL and kube-apiserver's own log line."""
    folder, child = issuer_run
    assert child.proc.returncode == 1, child.tail()
    assert "Traceback" not in child.output and "INTERNALERROR" not in child.output, child.tail()
    line = jwt_line(folder, "issuer-unreachable")
    assert re.match(r"kube-apiserver did not accept a token of the issuer https://[0-9.]+:\d+ "
                    r"\(discovery at https://127\.0\.0\.1:1/\.well-known/openid-configuration\) "
                    rf"within {JWT_WAIT}s \(last answer 401\); its log: oidc authenticator: "
                    r"initializing plugin: ", line), line
    assert "127.0.0.1:1: connect: connection refused" in line, line


def test_a_jwks_without_the_signing_key_is_one_line_naming_the_issuer(issuer_run):
    """The authenticator initializes, every token of the issuer fails verification (401):
    the same one line, with kube-apiserver's log line refusing the token."""
    folder, child = issuer_run
    line = jwt_line(folder, "jwks-mismatched")
    assert re.match(r"kube-apiserver did not accept a token of the issuer "
                    rf"https://[0-9.]+:\d+ within {JWT_WAIT}s \(last answer 401\); its log: "
                    r'"Unable to authenticate the request" err="\[invalid bearer token, oidc: '
                    r"verify token: ", line), line
    assert "failed to verify id token signature" in line, line


def test_the_issuer_runs_leave_nothing(issuer_run):
    folder, child = issuer_run
    outcomes = outcomes_of(folder)
    assert len(created(child)) == 2, child.tail()
    assert_nothing_left(child, outcomes)


def test_a_config_the_minor_refuses_quotes_kube_apiserver_s_line(refused_run):
    """kube-apiserver exits 1 on a matchCondition whose CEL does not compile, as the row
    predicts; the create step's line and the cell quote kube-apiserver's own log entry
    refusing the file, which names the expression."""
    folder, child = refused_run
    assert "Traceback" not in child.output and "INTERNALERROR" not in child.output, child.tail()
    outcomes = outcomes_of(folder)
    cell = the_cell(outcomes, "match-condition-typo")
    assert cell["outcome"] == "expected-failure", cell
    assert cell["observed"]["up"] is False and cell["observed"]["exit_code"] == 1, cell
    refusal = cell["observed"]["log_tail"][-1]
    assert re.search(r'run\.go:\d+\] "command failed" err=<authorizers\[1\]\.matchConditions'
                     r"\[0\]\.expression: Invalid value: .*compilation failed: .*undefined field "
                     r"'userName'", refusal), refusal
    assert cell["message"].startswith('does not come up exit 1 (E') and "\n" not in \
        cell["message"], cell
    assert '"command failed" err=<authorizers[1].matchConditions[0].expression' in \
        cell["message"], cell
    [create] = [p for p in outcomes["phases"]
                if p["cluster"] == cell["cluster"] and p["phase"] == "create"]
    assert create["outcome"] == "expected-failure", create
    assert create["message"].endswith(f"last log line: {refusal.strip()}"), create


def test_a_field_no_minor_has_is_one_line_before_any_cluster(refused_run):
    folder, child = refused_run
    cell = the_cell(outcomes_of(folder), "issuer-field-typo")
    message = cell["message"]
    assert cell["outcome"] == "error" and "\n" not in message, cell
    assert message.startswith("profile issuer-field-typo on Kubernetes 1.34: "
                              "AuthenticationConfiguration has no field "
                              "jwt[0].issuer.discoveryUrl: take it out of the profile"), message
    assert [name for name in created(child) if "issuer-field-typo" in name] == [], \
        child.tail()


def test_the_refused_runs_leave_nothing(refused_run):
    folder, child = refused_run
    outcomes = outcomes_of(folder)
    assert len(created(child)) == 1, child.tail()
    assert_nothing_left(child, outcomes)
    assert not left_of(created(child))
