"""No numeric timeout in the package or the shipped scenarios outside the named set
(authprobe/model/timeouts.py): every wait and command limit takes its value from a named
timeout, so a run can override it and a reader finds it in one place.

The check reads the source with ``ast``: a number anywhere in the value of a keyword
argument named like a timeout, in the default of a parameter named so, or in the value of
a module-level UPPER_CASE name ending like one. Polling intervals (``interval=``) are not
limits and are not checked.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from authprobe.model import timeouts

ROOT = Path(__file__).resolve().parents[2]
CHECKED = (ROOT / "authprobe", ROOT / "scenarios")
NAMED_SET = ROOT / "authprobe" / "model" / "timeouts.py"
TIMEOUT_NAMES = {"timeout", "_request_timeout", "deadline", "timeout_seconds", "within",
                 "grace"}
CONSTANT_ENDINGS = ("TIMEOUT", "_LIMIT", "_WINDOW", "_WAIT", "_WITHIN", "_SETTLE")


def _numbers(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Constant) and type(n.value) in (int, float)
               for n in ast.walk(node))


def _parameters(args: ast.arguments) -> list[tuple[ast.arg, ast.expr | None]]:
    positional = args.posonlyargs + args.args
    with_defaults = positional[len(positional) - len(args.defaults):]
    return (list(zip(with_defaults, args.defaults, strict=True))
            + list(zip(args.kwonlyargs, args.kw_defaults, strict=True)))


def numeric_timeouts(source: str, filename: str = "<source>") -> list[str]:
    """``file:line: what`` for each numeric timeout in ``source``."""
    tree = ast.parse(source, filename)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for keyword in node.keywords:
                if keyword.arg in TIMEOUT_NAMES and _numbers(keyword.value):
                    found.append((keyword.value.lineno,
                                  f"{keyword.arg}={ast.unparse(keyword.value)}"))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for arg, default in _parameters(node.args):
                if default is not None and arg.arg in TIMEOUT_NAMES and _numbers(default):
                    found.append((default.lineno, f"parameter {arg.arg} defaults to "
                                                  f"{ast.unparse(default)}"))
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if (isinstance(target, ast.Name) and target.id.isupper()
                    and target.id.endswith(CONSTANT_ENDINGS) and _numbers(value)):
                found.append((node.lineno, f"{target.id} = {ast.unparse(value)}"))
    return [f"{filename}:{line}: {what}" for line, what in sorted(found)]


def test_no_numeric_timeout_outside_the_named_set():
    files = sorted(p for folder in CHECKED for p in folder.rglob("*.py") if p != NAMED_SET)
    assert len(files) > 50, f"the walk found only {len(files)} files under {CHECKED}"
    found = [line for path in files
             for line in numeric_timeouts(path.read_text(), str(path.relative_to(ROOT)))]
    assert not found, ("numeric timeouts outside authprobe/model/timeouts.py (name them "
                       "there, or in the step's timeouts):\n" + "\n".join(found))


@pytest.mark.parametrize(("source", "line"), [
    pytest.param("docker('pull', ref, timeout=1800)\n", "t.py:1: timeout=1800",
                 id="keyword"),
    pytest.param("until(ok,\n      timeout=window + 180, interval=2.0)\n",
                 "t.py:2: timeout=window + 180", id="number-in-an-expression"),
    pytest.param("api.list_pod('ns', _request_timeout=5)\n", "t.py:1: _request_timeout=5",
                 id="request-timeout"),
    pytest.param("answered(call, within=420.0)\n", "t.py:1: within=420.0", id="within"),
    pytest.param("def ready(admin, timeout: float = 240.0):\n    pass\n",
                 "t.py:1: parameter timeout defaults to 240.0", id="default"),
    pytest.param("def stop(*, grace=10):\n    pass\n",
                 "t.py:1: parameter grace defaults to 10", id="keyword-only-default"),
    pytest.param("f = lambda deadline=30: deadline\n",
                 "t.py:1: parameter deadline defaults to 30", id="lambda-default"),
    pytest.param("EVENTS_TIMEOUT = 180.0\n", "t.py:1: EVENTS_TIMEOUT = 180.0",
                 id="module-constant"),
    pytest.param("DEFAULT_WINDOW: float = 330.0\n", "t.py:1: DEFAULT_WINDOW = 330.0",
                 id="annotated-constant"),
    pytest.param("CONTAINERD_WAIT = 60.0\n", "t.py:1: CONTAINERD_WAIT = 60.0",
                 id="wait-constant"),
])
def test_the_check_finds_a_planted_timeout(source, line):
    assert numeric_timeouts(source, "t.py") == [line]


@pytest.mark.parametrize("source", [
    pytest.param("docker('pull', ref, timeout=calls().image_pull)\n", id="named"),
    pytest.param("until(ok, timeout=limit(run, 'ready'), interval=2.0)\n", id="interval"),
    pytest.param("def ready(admin, timeout: float | None = None):\n    pass\n",
                 id="none-default"),
    pytest.param("def f():\n    LOCAL_TIMEOUT = 5\n", id="not-module-level"),
    pytest.param("EARLY_EXITS = 3\nMARGIN_SHARE = 0.2\n", id="not-a-timeout-name"),
    pytest.param("run(cmd, timeout=True)\n", id="a-bool-is-not-a-number"),
])
def test_the_check_passes_named_timeouts(source):
    assert numeric_timeouts(source, "t.py") == []


def _string_names(call_name: str) -> list[tuple[str, str]]:
    """(file:line, name) of every ``call_name(..., "name")`` whose name is a string."""
    found = []
    for folder in CHECKED:
        for path in folder.rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Call) and getattr(node.func, "id", getattr(
                        node.func, "attr", None)) == call_name and node.args
                        and isinstance(node.args[-1], ast.Constant)
                        and isinstance(node.args[-1].value, str)):
                    found.append((f"{path.relative_to(ROOT)}:{node.lineno}",
                                  node.args[-1].value))
    return found


def test_every_limit_read_by_name_is_declared():
    used = _string_names("limit")
    assert {name for _, name in used} >= {"create", "ready", "teardown"}, used
    unknown = [f"{where}: {name}" for where, name in used if name not in timeouts.SHIPPED]
    assert not unknown, "limits read by a name no group declares:\n" + "\n".join(unknown)
