"""pkg/generated/openapi for Kubernetes trees whose module zip lacks it (versions.yaml
``generate_openapi``): openapi-gen from the pinned k8s.io/kube-openapi, run over the packages
that build/root/Makefile.generated_files picks (target KUBE), checked like that Makefile does
against api/api-rules/violation_exceptions.list.
"""

from __future__ import annotations

import difflib
import os
import re
import shutil
from pathlib import Path

from ..errors import AuthprobeError
from ..host.tools import go_binary
from . import gomod

OPENAPI_GEN = "k8s.io/kube-openapi/cmd/openapi-gen"
OUTPUT_PACKAGE = "k8s.io/kubernetes/pkg/generated/openapi"
OUTPUT_BASENAME = "zz_generated.openapi"
BOILERPLATE = Path("hack/boilerplate/boilerplate.generatego.txt")
KNOWN_VIOLATIONS = Path("api/api-rules/violation_exceptions.list")
# Makefile.generated_files: KUBE_OPENAPI_TAG_FILES leaves these staging repos out.
EXCLUDED_REPOS = ("k8s.io/code-generator", "k8s.io/sample-apiserver")
# ALL_K8S_TAG_FILES: Go files with a line starting with a +k8s: tag comment.
K8S_TAG = re.compile(rb"^// *\+k8s:", re.MULTILINE)
OPENAPI_TAG = b"+k8s:openapi-gen="


def writable_copy(source: Path, target: Path) -> Path:
    """A copy of a (read-only) module cache tree that the build may add files to."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, copy_function=shutil.copyfile, symlinks=True)
    for folder, _, _ in os.walk(target):
        os.chmod(folder, 0o755)
    return target


def tools_file(packages: list[str]) -> str:
    """A tools.go that keeps ``packages`` (commands) in the module graph for go mod tidy."""
    lines = "\n".join(f'\t_ "{package}"' for package in sorted(packages))
    return f"//go:build tools\n\npackage tools\n\nimport (\n{lines}\n)\n"


def _pruned(top: str) -> bool:
    """kfind of hack/make-rules/helpers/cache_go_dirs.sh prunes ./vendor, ./_* and ./.*."""
    return top == "vendor" or top.startswith(("_", "."))


def openapi_dirs(root: Path) -> list[str]:
    """Folders under ``root`` ("" for itself) with a Go file that has a +k8s: tag line and
    asks for +k8s:openapi-gen=, sorted as LC_ALL=C sort does."""
    found = set()
    for folder, subdirs, files in os.walk(root):
        relative = Path(folder).relative_to(root)
        if relative == Path("."):
            subdirs[:] = [d for d in subdirs if not _pruned(d)]
        for name in files:
            path = Path(folder) / name
            if not name.endswith(".go") or path.is_symlink():
                continue
            text = path.read_bytes()
            if K8S_TAG.search(text) and OPENAPI_TAG in text:
                found.add("" if relative == Path(".") else relative.as_posix())
    return sorted(found)


def input_packages(roots: dict[str, Path]) -> list[str]:
    """openapi-gen's input packages: the tagged folders of each tree, as import paths
    (``roots`` maps an import path prefix to the folder that holds it)."""
    packages = set()
    for prefix, root in roots.items():
        packages.update(f"{prefix}/{d}" if d else prefix for d in openapi_dirs(root))
    return sorted(packages)


def staging_repos(kube_gomod: dict) -> list[str]:
    """The modules k/k takes from ./staging, less those the KUBE target leaves out."""
    return sorted(r.old for r in gomod.replaces(kube_gomod)
                  if r.new.startswith("./staging/") and r.old not in EXCLUDED_REPOS)


def module_dirs(workdir: Path, modules: list[str], log: Path) -> dict[str, Path]:
    """Where the build module's graph has ``modules`` extracted (those not in it are left out,
    as the Makefile's scan would find no tree for them)."""
    text = gomod.output([go_binary(), "list", "-m", "-e", "-f", "{{.Path}}\t{{.Dir}}", *modules],
                        log, "go list -m of the staging modules", cwd=workdir)
    dirs = {}
    for line in text.splitlines():
        path, _, folder = line.partition("\t")
        if folder and Path(folder).is_dir():
            dirs[path] = Path(folder)
    return dirs


def check_violations(report: Path, known: Path, log: Path) -> None:
    """Fail when openapi-gen's API rule violations are not exactly the known list."""
    got, want = report.read_text().splitlines(), known.read_text().splitlines()
    if got == want:
        return
    diff = list(difflib.unified_diff(want, got, str(known), str(report), lineterm=""))
    with log.open("a") as out:
        out.write("\n".join(diff) + "\n")
    extra = sum(1 for line in diff if line.startswith("+") and not line.startswith("+++"))
    missing = sum(1 for line in diff if line.startswith("-") and not line.startswith("---"))
    raise AuthprobeError(
        f"openapi-gen's API rule violations differ from {KNOWN_VIOLATIONS} ({extra} new, "
        f"{missing} missing): its input packages are not upstream's", log_path=str(log))


def generate(workdir: Path, source: Path, kube_gomod: dict, tools: Path, log: Path) -> None:
    """Put zz_generated.openapi.go into ``source`` (the k/k copy the build module replaces
    k8s.io/kubernetes with); ``tools`` is a scratch folder for openapi-gen and its output."""
    shutil.rmtree(tools, ignore_errors=True)
    tools.mkdir(parents=True)
    generator = tools / "openapi-gen"
    gomod.run_logged([go_binary(), "build", "-p", "2", "-o", str(generator), OPENAPI_GEN], log,
                     "go build of openapi-gen", cwd=workdir)
    roots = {"k8s.io/kubernetes": source,
             **module_dirs(workdir, staging_repos(kube_gomod), log)}
    inputs = input_packages(roots)
    with log.open("a") as out:
        out.write(f"openapi-gen input packages ({len(inputs)}):\n" + "\n".join(inputs) + "\n")
    report = tools / "KUBE_violations.report"
    env = dict(gomod.go_env())
    env["PATH"] = f"{Path(go_binary()).parent}{os.pathsep}{env.get('PATH', '')}"
    # gengo loads packages through `go list`, so it runs inside the build module.
    gomod.run_logged(
        [str(generator), "--logtostderr", "-v", "1", "-i", ",".join(inputs),
         "-p", OUTPUT_PACKAGE, "-O", OUTPUT_BASENAME, "-h", str(source / BOILERPLATE),
         "-o", str(tools / "out"), "-r", str(report)],
        log, "openapi-gen of pkg/generated/openapi", cwd=workdir, env=env)
    check_violations(report, source / KNOWN_VIOLATIONS, log)
    generated = tools / "out" / OUTPUT_PACKAGE / f"{OUTPUT_BASENAME}.go"
    if not generated.exists():
        raise AuthprobeError(f"openapi-gen wrote no {generated.name}", log_path=str(log))
    shutil.copyfile(generated, source / "pkg/generated/openapi" / generated.name)
