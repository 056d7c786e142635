"""openapi-gen inputs by the rule of build/root/Makefile.generated_files, on small fake trees;
the violation check, the tools file and the writable source copy."""

from __future__ import annotations

import os
import stat

import pytest

from authprobe.errors import AuthprobeError
from authprobe.nodeimage import openapi

TAGGED = "// +k8s:deepcopy-gen=package\n// +k8s:openapi-gen=true\n\npackage v1\n"


def put(root, relative, text):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "kubernetes"
    put(root, "pkg/apis/abac/v0/doc.go", TAGGED)
    # Any +k8s:openapi-gen= counts (false too: openapi-gen itself skips those types).
    put(root, "pkg/apis/abac/v1beta1/doc.go", "//+k8s:openapi-gen=false\npackage v1beta1\n")
    # The tag line must start the line: an indented one is no tag file.
    put(root, "pkg/indented/doc.go", "package x\n\n\t// +k8s:openapi-gen=true\n")
    # A +k8s: tag file without openapi-gen, and openapi-gen outside a Go file.
    put(root, "pkg/deepcopy/doc.go", "// +k8s:deepcopy-gen=package\npackage deepcopy\n")
    put(root, "pkg/notgo/doc.txt", TAGGED)
    # Pruned at the top only: ./vendor, ./_* and ./.*; deeper _ and . folders are scanned.
    put(root, "vendor/k8s.io/api/core/v1/doc.go", TAGGED)
    put(root, "_output/local/doc.go", TAGGED)
    put(root, ".git/doc.go", TAGGED)
    put(root, "pkg/_deeper/v1/doc.go", TAGGED)
    put(root, "doc.go", TAGGED)
    return root


def test_openapi_dirs_follow_the_makefile_rule(tree):
    assert openapi.openapi_dirs(tree) == [
        "", "pkg/_deeper/v1", "pkg/apis/abac/v0", "pkg/apis/abac/v1beta1"]


def test_input_packages_prefix_each_tree_and_sort(tmp_path, tree):
    staging = tmp_path / "api"
    put(staging, "core/v1/doc.go", TAGGED)
    put(staging, "apps/v1/doc.go", TAGGED)
    packages = openapi.input_packages({"k8s.io/kubernetes": tree, "k8s.io/api": staging})
    assert packages == [
        "k8s.io/api/apps/v1", "k8s.io/api/core/v1", "k8s.io/kubernetes",
        "k8s.io/kubernetes/pkg/_deeper/v1", "k8s.io/kubernetes/pkg/apis/abac/v0",
        "k8s.io/kubernetes/pkg/apis/abac/v1beta1"]


def test_staging_repos_leave_out_what_the_kube_target_filters():
    gomod = {"Replace": [
        {"Old": {"Path": "k8s.io/api"}, "New": {"Path": "./staging/src/k8s.io/api"}},
        {"Old": {"Path": "k8s.io/code-generator"},
         "New": {"Path": "./staging/src/k8s.io/code-generator"}},
        {"Old": {"Path": "k8s.io/sample-apiserver"},
         "New": {"Path": "./staging/src/k8s.io/sample-apiserver"}},
        {"Old": {"Path": "k8s.io/kubelet"}, "New": {"Path": "./staging/src/k8s.io/kubelet"}},
        {"Old": {"Path": "vbom.ml/util"}, "New": {"Path": "vbom.ml/util", "Version": "v0.1"}},
    ]}
    assert openapi.staging_repos(gomod) == ["k8s.io/api", "k8s.io/kubelet"]


def test_violation_report_must_equal_the_known_list(tmp_path):
    known, report, log = tmp_path / "known", tmp_path / "report", tmp_path / "log"
    known.write_text("API rule violation: a\nAPI rule violation: b\n")
    report.write_text("API rule violation: a\nAPI rule violation: b\n")
    openapi.check_violations(report, known, log)
    report.write_text("API rule violation: a\nAPI rule violation: c\nAPI rule violation: d\n")
    with pytest.raises(AuthprobeError) as err:
        openapi.check_violations(report, known, log)
    line = err.value.one_line()
    assert "violation_exceptions.list (2 new, 1 missing)" in line and str(log) in line
    assert "+API rule violation: c" in log.read_text()


def test_tools_file_keeps_the_commands():
    text = openapi.tools_file(["k8s.io/kubernetes/cmd/kubelet", openapi.OPENAPI_GEN])
    assert text.startswith("//go:build tools\n\npackage tools\n")
    assert '\t_ "k8s.io/kube-openapi/cmd/openapi-gen"\n' in text
    assert '\t_ "k8s.io/kubernetes/cmd/kubelet"\n' in text


def test_writable_copy_of_a_read_only_tree(tmp_path):
    source = tmp_path / "cache" / "k8s.io" / "kubernetes@v1.19.16"
    put(source, "pkg/generated/openapi/doc.go", "package openapi\n")
    for folder, _, files in os.walk(source):
        for name in files:
            os.chmod(os.path.join(folder, name), 0o444)
        os.chmod(folder, 0o555)
    copy = openapi.writable_copy(source, tmp_path / "work" / "kubernetes-source")
    (copy / "pkg/generated/openapi/zz_generated.openapi.go").write_text("package openapi\n")
    assert (copy / "pkg/generated/openapi/doc.go").read_text() == "package openapi\n"
    assert stat.S_IMODE(os.stat(copy / "pkg/generated/openapi/doc.go").st_mode) & 0o200
    for folder, _, _ in os.walk(source):
        os.chmod(folder, 0o755)  # let tmp_path be cleaned up
