"""go.mod files read and written with the real `go mod edit` (no network)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from authprobe.errors import AuthprobeError
from authprobe.model.versions import KubeVersion, version_table
from authprobe.nodeimage import gomod, kube
from authprobe.nodeimage.gomod import Replace

GO = Path("/usr/local/go/bin/go")
pytestmark = pytest.mark.skipif(not GO.exists(), reason="needs the Go toolchain")

GOMOD = """\
module example.com/m

go 1.25.0

godebug default=go1.24

godebug (
\tpanicnil=1
)

require (
\ta.example/x v1.2.3
\tc.example/z v0.1.0 // indirect
)

replace a.example/x v1.2.3 => b.example/y v1.4.0

replace (
\tc.example/z => d.example/w v0.2.0
\te.example/local => ./staging/src/e
)

exclude f.example/bad v0.1.0
"""

REPLACES = [
    Replace("a.example/x", "v1.2.3", "b.example/y", "v1.4.0"),
    Replace("c.example/z", None, "d.example/w", "v0.2.0"),
    Replace("e.example/local", None, "./staging/src/e", None),
]


def written(tmp_path: Path, text: str = GOMOD) -> Path:
    path = tmp_path / "src" / "go.mod"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def requires(parsed: dict) -> list[str]:
    return [f"{r['Path']}@{r['Version']}" for r in parsed.get("Require") or []]


def test_read_returns_every_directive_exactly(tmp_path):
    parsed = gomod.read(written(tmp_path))
    assert parsed["Module"]["Path"] == "example.com/m"
    assert gomod.go_line(parsed) == "1.25.0"
    assert requires(parsed) == ["a.example/x@v1.2.3", "c.example/z@v0.1.0"]
    assert gomod.replaces(parsed) == REPLACES
    assert gomod.excludes(parsed) == ["f.example/bad@v0.1.0"]
    assert gomod.godebug(parsed) == ["default=go1.24", "panicnil=1"]


def test_replace_kinds():
    versioned, unversioned, local = REPLACES
    assert not versioned.local and not unversioned.local and local.local
    assert versioned.flag() == "-replace=a.example/x@v1.2.3=b.example/y@v1.4.0"
    assert unversioned.flag() == "-replace=c.example/z=d.example/w@v0.2.0"
    assert local.flag() == "-replace=e.example/local=./staging/src/e"


def test_read_of_a_broken_file_is_one_line(tmp_path):
    path = written(tmp_path, "module example.com/m\n\nrequire (\n")
    with pytest.raises(AuthprobeError) as err:
        gomod.read(path)
    assert "go mod edit -json" in err.value.one_line() and str(path) in err.value.one_line()


def test_write_wrapper_reads_back_the_same(tmp_path):
    source = gomod.read(written(tmp_path))
    work, log = tmp_path / "wrapper", tmp_path / "logs" / "wrapper.log"
    gomod.write_wrapper(work, "authprobe.invalid/test", gomod.go_line(source), requires(source),
                        gomod.replaces(source), gomod.excludes(source), gomod.godebug(source),
                        log)
    assert (work / "go.sum").exists()
    back = gomod.read(work / "go.mod")
    assert back["Module"]["Path"] == "authprobe.invalid/test"
    assert gomod.go_line(back) == "1.25.0"
    assert requires(back) == requires(source)
    assert gomod.replaces(back) == gomod.replaces(source) == REPLACES
    assert gomod.excludes(back) == gomod.excludes(source)
    assert gomod.godebug(back) == gomod.godebug(source) == ["default=go1.24", "panicnil=1"]
    assert "go mod edit" in log.read_text()


def test_write_wrapper_without_go_line(tmp_path):
    work = tmp_path / "wrapper"
    gomod.write_wrapper(work, "authprobe.invalid/bare", None, ["a.example/x@v1.0.0"], [], [], [],
                        tmp_path / "log")
    back = gomod.read(work / "go.mod")
    assert requires(back) == ["a.example/x@v1.0.0"]
    assert not back.get("Replace") and not back.get("Exclude")


def test_write_wrapper_failure_names_what_and_the_log(tmp_path):
    log = tmp_path / "log"
    with pytest.raises(AuthprobeError) as err:
        gomod.write_wrapper(tmp_path / "w", "authprobe.invalid/bad", None, ["not a module"],
                            [], [], [], log)
    line = err.value.one_line()
    assert "go mod edit of the authprobe.invalid/bad module failed" in line
    assert f"(full log: {log})" in line


KK_GOMOD = """\
// This is a generated file. Do not edit directly.

module k8s.io/kubernetes

go 1.25.0

godebug default=go1.24

require (
\tgithub.com/blang/semver/v4 v4.0.0
\tk8s.io/api v0.0.0
\tk8s.io/client-go v0.0.0
)

replace (
\tgithub.com/example/forked => github.com/example/fork v1.2.3
\tgithub.com/example/pinned v0.9.0 => github.com/example/pinned v0.9.1
\tk8s.io/api => ./staging/src/k8s.io/api
\tk8s.io/client-go => ./staging/src/k8s.io/client-go
\tk8s.io/kms => ./staging/src/k8s.io/kms
\texample.com/elsewhere => ../elsewhere
)

exclude github.com/bad/mod v0.1.0
"""


def test_kubernetes_wrapper_pins_staging_and_keeps_the_rest(tmp_path):
    version = KubeVersion(1, 34, 12)
    facts = dataclasses.replace(version_table().facts_for(version),
                                go_replaces=("go.example/a=go.example/b@v1.0.0",
                                             "go.example/c=go.example/c@v0.3.0"))
    source = written(tmp_path, KK_GOMOD)
    info = gomod.ModuleInfo(path=kube.KUBE_MODULE, version=version.tag, time="", dir=None,
                            gomod=source)
    work = tmp_path / "kube-wrapper"
    kube.wrapper(version, info, facts, work, tmp_path / "log")
    back = gomod.read(work / "go.mod")
    assert requires(back) == ["k8s.io/kubernetes@v1.34.12"]
    assert gomod.go_line(back) == "1.25.0"
    assert gomod.godebug(back) == ["default=go1.24"]
    assert gomod.excludes(back) == ["github.com/bad/mod@v0.1.0"]
    assert set(gomod.replaces(back)) == {
        Replace("github.com/example/forked", None, "github.com/example/fork", "v1.2.3"),
        Replace("github.com/example/pinned", "v0.9.0", "github.com/example/pinned", "v0.9.1"),
        Replace("k8s.io/api", None, "k8s.io/api", "v0.34.12"),
        Replace("k8s.io/client-go", None, "k8s.io/client-go", "v0.34.12"),
        Replace("k8s.io/kms", None, "k8s.io/kms", "v0.34.12"),
        Replace("go.example/a", None, "go.example/b", "v1.0.0"),
        Replace("go.example/c", None, "go.example/c", "v0.3.0"),
    }
    assert "staging" not in (work / "go.mod").read_text()
    assert "../elsewhere" not in (work / "go.mod").read_text()


def test_kubernetes_wrapper_with_its_own_go_line_and_a_source_copy(tmp_path):
    version = KubeVersion(1, 19, 16)
    facts = version_table().facts_for(version)
    source = written(tmp_path, KK_GOMOD)
    info = gomod.ModuleInfo(path=kube.KUBE_MODULE, version=version.tag, time="", dir=None,
                            gomod=source)
    work, copy = tmp_path / "kube-wrapper", tmp_path / "kube-wrapper-source"
    kube.wrapper(version, info, facts, work, tmp_path / "log", copy)
    back = gomod.read(work / "go.mod")
    assert gomod.go_line(back) == "1.21"  # versions.yaml wrapper_go, not k/k's 1.25.0
    replaced = set(gomod.replaces(back))
    assert Replace(kube.KUBE_MODULE, None, "../kube-wrapper-source", None) in replaced
    assert Replace("k8s.io/api", None, "k8s.io/api", "v0.19.16") in replaced
    assert Replace("github.com/modern-go/reflect2", None, "github.com/modern-go/reflect2",
                   "v1.0.2") in replaced
    assert Replace("vbom.ml/util", None, "github.com/fvbommel/util",
                   "v0.0.0-20160121211510-db5cfe13f5cc") in replaced


def test_replace_entries_split_old_new_and_version():
    assert gomod.replace_entries(["a.example/x=b.example/y@v1.0.0", "c.example/z=../local"]) == [
        Replace("a.example/x", None, "b.example/y", "v1.0.0"),
        Replace("c.example/z", None, "../local", None)]
