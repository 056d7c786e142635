"""The real-cluster tests' leak check looks only at the clusters of the run it made: the names
its outcomes.json gives (tests/e2e/conftest.py), and any other cluster carrying that run's
token; another run's clusters of the same minor and profile are left out."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from authprobe.harness.naming import cluster_name

ROOT = Path(__file__).resolve().parents[2]
RUN = json.loads((ROOT / "tests" / "unit" / "data" / "outcomes-1.34.json").read_text())
MINE = {f"authprobe-{profile}-134-8d30be"
        for profile in ("anon-on", "anon-off", "anon-health-only", "anon-off-probe-8080")}


def load_e2e_conftest():
    spec = importlib.util.spec_from_file_location("e2e_conftest",
                                                  ROOT / "tests" / "e2e" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


e2e = load_e2e_conftest()


@pytest.fixture
def engine(monkeypatch):
    """The engine's kind clusters, as ``docker.kind_containers`` lists their nodes."""
    running: list[str] = []
    monkeypatch.setattr(e2e.docker, "kind_containers",
                        lambda: [{"cluster": name, "Names": f"{name}-control-plane"}
                                 for name in running])
    return running


def test_the_runs_clusters_are_read_from_its_outcomes():
    assert e2e.run_clusters(RUN) == MINE
    assert {e2e.name_token(name) for name in MINE} == {"8d30be"}
    assert cluster_name("anon-off", "1.34", "8d30be") in MINE


def test_an_upgraded_cluster_is_one_kind_cluster_under_its_two_labels():
    """After an upgrade in place the report keeps each cluster twice, the second record
    labelled with the version it reached (``name@1.35.8``)."""
    upgraded = json.loads(json.dumps(RUN))
    after = [dict(c, name=f"{c['name']}@1.35.8") for c in upgraded["clusters"]]
    upgraded["clusters"] += after
    for cell in upgraded["cells"]:
        if cell.get("cluster"):
            upgraded["cells"].append(dict(cell, cluster=f"{cell['cluster']}@1.35.8"))
            break
    assert e2e.run_clusters(upgraded) == MINE


def test_a_run_whose_clusters_carry_two_tokens_is_no_one_run():
    other = {**RUN, "clusters": [*RUN["clusters"], {"name": "authprobe-anon-on-134-0a0b0c"}]}
    with pytest.raises(AssertionError, match="2 run tokens"):
        e2e.run_clusters(other)
    with pytest.raises(AssertionError, match="names no cluster"):
        e2e.run_clusters({"clusters": [], "cells": []})


def test_another_runs_clusters_of_the_same_minor_are_not_this_runs_leak(engine):
    engine += ["authprobe-anon-on-134-0a0b0c", "authprobe-anon-off-134-r1234abc",
               "kind", "authprobe-img-1.34-ffeedd"]
    assert e2e.left_of(e2e.run_clusters(RUN)) == set()


def test_a_cluster_of_this_run_left_behind_is_named(engine):
    # one it recorded, and one of its token that its outcomes.json does not list
    engine += ["authprobe-anon-off-134-8d30be", "authprobe-liveness-patch-135-8d30be",
               "authprobe-anon-off-134-0a0b0c"]
    assert e2e.left_of(e2e.run_clusters(RUN)) == {"authprobe-anon-off-134-8d30be",
                                                  "authprobe-liveness-patch-135-8d30be"}


def test_a_name_authprobe_does_not_give_a_run_is_refused():
    with pytest.raises(AssertionError, match="is not named as authprobe names"):
        e2e.left_of({"authprobe-img-1.34-ffeedd"})
