"""``authprobe profile import``: a team's kubeadm configuration, the files its flags name and
its running kube-apiserver as a profile. The ConfigMap, the mirror pod and the files are those
of a real 1.34.12 cluster (tests/unit/data/kubeadm-1.34.12, see the README there)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from authprobe.cli import main
from authprobe.errors import AuthprobeError
from authprobe.harness.manifest import apiserver_container
from authprobe.harness.render import AUTH_DIR, RenderInput, render
from authprobe.model.profiles import load_profile
from authprobe.model.versions import supported, version_table
from authprobe.team.importer import import_profile, profile_text
from authprobe.team.kubeadm import read_config, rendered_flags, rendered_probes

DATA = Path(__file__).parent / "data" / "kubeadm-1.34.12"
CONFIGMAP = DATA / "kubeadm-config.yaml"
POD = DATA / "kube-apiserver-pod.yaml"
FILES = DATA / "files"
PATCHES = {minor: row.patch for minor, row in supported().items()}


def pod(edit=None) -> dict:
    doc = yaml.safe_load(POD.read_text())
    if edit:
        edit(apiserver_container(doc))
    return doc


def written(tmp_path: Path, imported) -> Path:
    path = tmp_path / f"{imported.profile_id}.yaml"
    path.write_text(profile_text(imported))
    return path


def rendered_at(path: Path, minor: str):
    version = PATCHES[minor]
    profile = load_profile(path).at(version)
    return profile, render(RenderInput(profile, version, version_table().facts_for(version),
                                       f"authprobe/node:{version.tag}", "v0.33.0"))


def test_the_running_cluster_renders_as_kubeadm_renders_it_but_for_the_hand_edit():
    config = read_config(CONFIGMAP)
    running = apiserver_container(pod())
    flags = rendered_flags(config)
    for arg in running["command"][1:]:
        name, _, value = arg[2:].partition("=")
        want = flags[name]
        assert isinstance(want, str) is False or want == value, name
    probes = rendered_probes(config)
    assert probes["startupProbe"]["failureThreshold"] == running["startupProbe"][
        "failureThreshold"] == 24
    assert probes["livenessProbe"]["failureThreshold"] == 8
    assert running["livenessProbe"]["failureThreshold"] == 16


def test_the_captured_cluster_imports_with_its_hand_edit_and_renders(tmp_path):
    imported = import_profile(read_config(CONFIGMAP), FILES, "team-a", pod())
    doc = imported.document
    assert doc["apiserver"] == {"extraArgs": {
        "authentication-config": "{authFile:authentication-config.yaml}", "profiling": "false"}}
    assert doc["probes"] == {"by": "hand-edit", "livenessProbe": {"failureThreshold": 16}}
    assert doc["authFiles"]["authentication-config.yaml"] == yaml.safe_load(
        (FILES / "authentication-config.yaml").read_text())
    assert doc["versions"][0]["since"] == "1.34"
    assert imported.hand_edits == ["livenessProbe: failureThreshold 16 (kubeadm renders 8)"]
    left = "\n".join(imported.left_out)
    for named in ("--token-auth-file: a static token file holds secrets",
                  "--audit-policy-file:", "apiServer.certSANs:", "controlPlaneEndpoint:",
                  "networking.serviceSubnet:"):
        assert named in left
    assert all("\n" not in line for line in imported.left_out)
    assert "tokens.csv" not in profile_text(imported).split("description:")[1]
    for minor in ("1.34", "1.35"):
        profile, result = rendered_at(written(tmp_path, imported), minor)
        assert result.manifest_probes == {"livenessProbe": {"failureThreshold": 16}}
        assert result.expected["args"]["profiling"] == "false"
        assert result.expected["args"]["authentication-config"] == (
            f"{AUTH_DIR}/authentication-config.yaml")
    profile, _ = rendered_at(written(tmp_path, imported), "1.34")
    assert load_profile(written(tmp_path, imported)).at(PATCHES["1.33"]).na


def test_flags_added_or_changed_by_hand_are_hand_edits_and_reach_the_manifest(tmp_path):
    def edit(container):
        command = container["command"]
        command[command.index("--enable-admission-plugins=NodeRestriction")] = (
            "--enable-admission-plugins=NodeRestriction,AlwaysPullImages")
        command.append("--request-timeout=2m0s")
        command.remove("--enable-bootstrap-token-auth=true")

    imported = import_profile(read_config(CONFIGMAP), FILES, "team-b", pod(edit))
    assert imported.document["apiserver"]["handEditedArgs"] == {
        "enable-admission-plugins": "NodeRestriction,AlwaysPullImages",
        "request-timeout": "2m0s"}
    assert "--request-timeout=2m0s (added by hand)" in imported.hand_edits
    assert any(line.startswith("--enable-bootstrap-token-auth removed by hand")
               for line in imported.left_out)
    _, result = rendered_at(written(tmp_path, imported), "1.34")
    assert result.manifest_args == {"enable-admission-plugins": "NodeRestriction,AlwaysPullImages",
                                    "request-timeout": "2m0s"}
    assert result.expected["args"]["request-timeout"] == "2m0s"
    kubeadm_args = yaml.safe_load(yaml.safe_load(result.kind_config)["kubeadmConfigPatches"][0])
    assert "request-timeout" not in kubeadm_args["apiServer"]["extraArgs"]


TEAM_FILE = """\
apiVersion: kubeadm.k8s.io/v1beta3
kind: InitConfiguration
bootstrapTokens:
  - token: abcdef.0123456789abcdef
localAPIEndpoint: {advertiseAddress: 10.0.0.5, bindPort: 6443}
---
apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: v1.33.13
controlPlaneEndpoint: k8s.example.com:6443
etcd:
  external:
    endpoints: [https://etcd.example.com:2379]
apiServer:
  certSANs: [k8s.example.com]
  extraArgs:
    authentication-config: /etc/kubernetes/auth/authn.yaml
    authorization-config: /etc/kubernetes/auth/authz.yaml
    encryption-provider-config: /etc/kubernetes/enc/enc.yaml
    cloud-provider: external
    oidc-ca-file: /etc/kubernetes/pki/oidc.pem
    kubelet-certificate-authority: /etc/kubernetes/pki/ca.crt
    request-timeout: 90s
---
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
authentication:
  anonymous: {enabled: true}
  x509: {clientCAFile: /etc/kubernetes/pki/ca.crt}
cgroupDriver: systemd
"""
AUTHN = """\
apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthenticationConfiguration
jwt:
  - issuer:
      url: https://login.example.com
      certificateAuthority: "-----BEGIN CERTIFICATE-----"
      audiences: [k8s]
    claimMappings:
      username: {claim: email, prefix: ""}
"""
AUTHZ = """\
apiVersion: apiserver.config.k8s.io/v1
kind: AuthorizationConfiguration
authorizers:
  - {type: Node, name: node}
  - type: Webhook
    name: policy
    webhook:
      failurePolicy: Deny
      timeout: 3s
      subjectAccessReviewVersion: v1
      matchConditionSubjectAccessReviewVersion: v1
      authorizedTTL: 30s
      unauthorizedTTL: 30s
      connectionInfo:
        type: KubeConfigFile
        kubeConfigFile: /etc/kubernetes/auth/webhook.kubeconfig
  - {type: RBAC, name: rbac}
"""
WEBHOOK_KUBECONFIG = """\
apiVersion: v1
kind: Config
clusters:
  - name: policy
    cluster: {server: "https://policy.example.com/authorize"}
users:
  - name: apiserver
    user: {client-key-data: SECRETKEYDATA}
"""


@pytest.fixture
def team(tmp_path):
    files = tmp_path / "files"
    files.mkdir()
    (files / "authn.yaml").write_text(AUTHN)
    (files / "authz.yaml").write_text(AUTHZ)
    (files / "webhook.kubeconfig").write_text(WEBHOOK_KUBECONFIG)
    (files / "enc.yaml").write_text("SECRET ENCRYPTION KEY")
    config = tmp_path / "kubeadm.yaml"
    config.write_text(TEAM_FILE)
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    return config, files, profiles


def test_a_v1beta3_file_with_an_issuer_and_a_webhook_imports_without_a_secret(team, tmp_path):
    config, files, _ = team
    imported = import_profile(read_config(config), files, "team-c")
    doc = imported.document
    assert doc["apiserver"]["extraArgs"] == {
        "authentication-config": "{authFile:authentication-config.yaml}",
        "authorization-config": "{authFile:authorization-config.yaml}",
        "kubelet-certificate-authority": "/etc/kubernetes/pki/ca.crt",
        "request-timeout": "90s"}
    assert doc["issuer"] == {"jwt": {"issuer": {"audiences": ["k8s"]},
                                     "claimMappings": {"username": {"claim": "email",
                                                                    "prefix": ""}}}}
    assert [e["type"] for e in doc["authorizer"]["chain"]] == ["Node", "Webhook", "RBAC"]
    assert "connectionInfo" not in doc["authorizer"]["chain"][1]["webhook"]
    assert doc["kubelet"] == {"config": {"authentication": {"anonymous": {"enabled": True}}}}
    text = profile_text(imported)
    for secret in ("abcdef.0123456789abcdef", "SECRETKEYDATA", "SECRET ENCRYPTION KEY",
                   "BEGIN CERTIFICATE", "10.0.0.5"):
        assert secret not in text
    left = "\n".join(imported.left_out)
    for named in ("--encryption-provider-config: holds the keys", "--cloud-provider:",
                  "--oidc-ca-file:", "etcd.external: external etcd",
                  "apiServer.certSANs:", "InitConfiguration bootstrapTokens: bootstrap tokens "
                  "are secrets", "InitConfiguration localAPIEndpoint:",
                  "jwt issuer https://login.example.com:",
                  "webhook 'policy' (https://policy.example.com/authorize)",
                  "KubeletConfiguration authentication.x509.clientCAFile",
                  "KubeletConfiguration cgroupDriver:"):
        assert named in left, named
    assert str(files / "enc.yaml") not in imported.files_read
    _, result = rendered_at(written(tmp_path, imported), "1.33")
    assert result.expected["absent_args"] == ["authorization-mode"]
    assert "authorization-mode" not in rendered_flags(read_config(config))


def run_cli(*args) -> int:
    return main(["profile", "import", *map(str, args)])


def test_the_command_writes_a_profile_that_loads(team, capsys):
    config, files, profiles = team
    assert run_cli(config, "--files", files, "--into", profiles, "--name", "team-c") == 0
    out = capsys.readouterr().out
    assert "left out: --encryption-provider-config" in out
    assert load_profile(profiles / "team-c.yaml").id == "team-c"
    assert run_cli(config, "--files", files, "--into", profiles, "--name", "team-c") == 2
    assert "exists: pass --replace" in capsys.readouterr().err


def _nothing_written(profiles: Path) -> bool:
    return list(profiles.iterdir()) == []


def _configmap(data: str) -> str:
    """The kubeadm-config ConfigMap as kubectl prints it, with ``data`` as its data."""
    return ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: kubeadm-config, "
            f"namespace: kube-system}}\ndata: {data}\n")


@pytest.mark.parametrize("case, line", [
    ("not-kubeadm", "ConfigMap kube-system/coredns is not a kubeadm configuration"),
    ("configmap-of-a-kubelet-config", "is not a kubeadm configuration: it holds no "
                                      "ClusterConfiguration (KubeletConfiguration)"),
    ("configmap-data-not-a-mapping", "ConfigMap kube-system/kubeadm-config is not a kubeadm "
                                     "configuration (no data.ClusterConfiguration)"),
    ("configmap-list", "is not a kubeadm configuration: it holds no ClusterConfiguration "
                       "(List); give the ConfigMap"),
    ("version-not-a-version", "kubernetesVersion 'stable' is not a version such as v1.34.12"),
    ("missing-file", "--authorization-config names /etc/kubernetes/auth/authz.yaml, and"),
    ("missing-authentication-file", "--authentication-config names "
                                    "/etc/kubernetes/auth/authn.yaml, and"),
    ("missing-kubeconfig", "names the kubeconfig /etc/kubernetes/auth/webhook.kubeconfig"),
    ("missing-config", "cannot read"),
    ("missing-files-folder", "is not a folder: give the folder the files the flags name"),
    ("missing-pod", "pod.yaml: No such file or directory"),
    ("issuer-not-a-mapping", "authn.yaml (named by --authentication-config): jwt[0].issuer "
                             "must be a mapping"),
    ("authorizers-not-a-list", "authz.yaml (named by --authorization-config): authorizers "
                               "must be a list of mappings"),
    ("old-api", "ClusterConfiguration kubeadm.k8s.io/v1beta2 is not read"),
    ("not-yaml", "is not valid YAML"),
    ("not-a-pod", "is not a Pod"),
])
def test_bad_input_is_one_line_and_writes_nothing(team, tmp_path, capsys, case, line):
    config, files, profiles = team
    extra = []
    if case == "not-kubeadm":
        config.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: coredns, "
                          "namespace: kube-system}\ndata: {Corefile: '.:53 {}'}\n")
    elif case == "configmap-of-a-kubelet-config":
        config.write_text(_configmap("{ClusterConfiguration: 'apiVersion: kubelet.config.k8s.io"
                                     "/v1beta1\n\n  kind: KubeletConfiguration\n\n'}"))
    elif case == "configmap-data-not-a-mapping":
        config.write_text(_configmap("ClusterConfiguration"))
    elif case == "configmap-list":
        listed = yaml.safe_load(CONFIGMAP.read_text())
        config.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List",
                                          "items": [listed]}))
    elif case == "version-not-a-version":
        config.write_text(TEAM_FILE.replace("kubernetesVersion: v1.33.13", "kubernetesVersion: "
                                                                           "stable"))
    elif case == "missing-file":
        (files / "authz.yaml").unlink()
    elif case == "missing-authentication-file":
        (files / "authn.yaml").unlink()
    elif case == "missing-kubeconfig":
        (files / "webhook.kubeconfig").unlink()
    elif case == "missing-config":
        config.unlink()
    elif case == "missing-files-folder":
        shutil.rmtree(files)
    elif case == "missing-pod":
        extra = ["--pod", tmp_path / "pod.yaml"]
    elif case == "issuer-not-a-mapping":
        (files / "authn.yaml").write_text(AUTHN.replace(
            "  - issuer:\n      url: https://login.example.com\n", "  - issuer: login\n"
            "    x:\n      url: https://login.example.com\n"))
    elif case == "authorizers-not-a-list":
        (files / "authz.yaml").write_text(AUTHZ.split("authorizers:")[0]
                                          + "authorizers: Webhook\n")
    elif case == "old-api":
        config.write_text(TEAM_FILE.replace("v1beta3", "v1beta2"))
    elif case == "not-yaml":
        config.write_text("apiServer: [unclosed\n")
    elif case == "not-a-pod":
        shutil.copy(CONFIGMAP, tmp_path / "pod.yaml")
        extra = ["--pod", tmp_path / "pod.yaml"]
    assert run_cli(config, "--files", files, "--into", profiles, "--name", "team-c",
                   *extra) == 2
    captured = capsys.readouterr()
    err = captured.err
    assert line in err and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("authprobe: error: ") and captured.out == ""
    assert _nothing_written(profiles)


def test_a_profile_that_would_not_load_is_not_written(team, capsys):
    config, files, profiles = team
    config.write_text(TEAM_FILE.replace("    request-timeout: 90s\n",
                                        "    request-timeout: 90s\n    anonymous-auth: 'false'\n"))
    assert run_cli(config, "--files", files, "--into", profiles, "--name", "team-c") == 2
    err = capsys.readouterr().err
    assert "does not load or render" in err and "--anonymous-auth cannot be combined" in err
    assert ".import-" not in err and _nothing_written(profiles)


def test_a_configmap_without_a_kubernetes_version_or_a_shipped_name_is_refused(team, capsys):
    config, files, profiles = team
    assert run_cli(config, "--files", files, "--into", profiles, "--name", "anon-on") == 2
    assert "a profile authprobe ships" in capsys.readouterr().err
    config.write_text(TEAM_FILE.replace("kubernetesVersion: v1.33.13\n", ""))
    with pytest.raises(AuthprobeError, match="names no kubernetesVersion"):
        import_profile(read_config(config), files, "team-c")
    assert _nothing_written(profiles)


def test_a_hand_edit_of_a_flag_replaces_it_in_place_or_adds_it():
    from authprobe.harness.manifest import flags_of, with_args

    manifest = pod()
    before = apiserver_container(manifest)["command"].index("--profiling=false")
    changed = with_args(manifest, {"profiling": "true", "request-timeout": "2m0s"})
    command = apiserver_container(changed)["command"]
    assert command[before] == "--profiling=true"
    assert command[-1] == "--request-timeout=2m0s"
    assert flags_of(apiserver_container(changed))["profiling"] == "true"


def test_a_flag_in_extra_args_and_hand_edited_args_is_one_line(tmp_path):
    path = tmp_path / "both.yaml"
    path.write_text("description: x\napiserver:\n  extraArgs: {profiling: 'false'}\n"
                    "  handEditedArgs: {profiling: 'true'}\n")
    with pytest.raises(AuthprobeError, match="--profiling is in extraArgs and handEditedArgs"):
        load_profile(path)


def test_the_manifest_step_runs_for_hand_edited_flags_alone():
    from types import SimpleNamespace

    from authprobe.harness import lifecycle
    from authprobe.harness.render import Rendered

    def run(**rendered):
        return SimpleNamespace(reused=False, rendered=Rendered("", "", **rendered))

    (step,) = [s for s in lifecycle.LIFECYCLE if s.name == "probe-patch"]
    assert step.applies(None, run(manifest_args={"request-timeout": "2m0s"}))
    assert step.applies(None, run(manifest_probes={"livenessProbe": {"failureThreshold": 16}}))
    assert not step.applies(None, run())


EXAMPLE = Path(__file__).parents[2] / "examples" / "team"


def test_the_team_rbac_is_copied_beside_the_profiles_and_named_by_the_profile(team, capsys):
    config, files, profiles = team
    assert run_cli(config, "--files", files, "--into", profiles, "--name", "team-c",
                   "--rbac", EXAMPLE / "rbac", "--access", EXAMPLE / "access.yaml") == 0
    home = profiles.parent / "team-c"
    assert sorted(p.name for p in (home / "rbac").iterdir()) == sorted(
        p.name for p in (EXAMPLE / "rbac").iterdir())
    assert (home / "access.yaml").read_text() == (EXAMPLE / "access.yaml").read_text()
    profile = load_profile(profiles / "team-c.yaml")
    assert profile.rbac.manifests_dir == (home / "rbac").resolve()
    assert len(profile.rbac.access.entries) >= 20
    out = capsys.readouterr().out
    assert f"rbac: {EXAMPLE / 'rbac'} copied to {home / 'rbac'}" in out
    assert run_cli(config, "--files", files, "--into", profiles, "--name", "team-c",
                   "--rbac", EXAMPLE / "rbac", "--replace") == 0
    assert load_profile(profiles / "team-c.yaml").rbac.access is None


@pytest.mark.parametrize("args, line", [
    (["--rbac", "missing"], "--rbac {tmp}/missing is not a folder"),
    (["--access", "missing.yaml"], "--access {tmp}/missing.yaml is not a file"),
    (["--rbac", "bad"], "Deployment"),
])
def test_a_bad_rbac_folder_or_access_table_is_one_line_and_writes_nothing(
        team, tmp_path, capsys, args, line):
    config, files, profiles = team
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "deploy.yaml").write_text("apiVersion: apps/v1\nkind: Deployment\n"
                                     "metadata: {name: web, namespace: team-a}\n")
    args = [str(tmp_path / a) if not a.startswith("--") else a for a in args]
    assert run_cli(config, "--files", files, "--into", profiles, "--name", "team-c",
                   *args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and line.format(tmp=tmp_path) in err, err
    assert _nothing_written(profiles) and not (profiles.parent / "team-c").exists()
