"""Cluster names, private folders, and the lease saying which run uses a cluster."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest

from authprobe.harness import naming
from authprobe.harness.naming import MAX_NAME, NAME_RE, cluster_name
from authprobe.model.versions import supported
from authprobe.paths import clusters_dir

SHIPPED = sorted(p.stem for p in (clusters_dir() / "profiles").glob("*.yaml"))


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTHPROBE_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def idents():
    return [naming.run_token(), "0a1b2c", "r" + "f" * 7, "r0123abc"]


@pytest.mark.parametrize("profile", [*SHIPPED, "x" * 80, "a-" * 30, "p"])
@pytest.mark.parametrize("minor", sorted(supported()))
def test_names_fit_and_match(profile, minor):
    for ident in idents():
        name = cluster_name(profile, minor, ident)
        assert len(name) <= MAX_NAME, name
        assert re.fullmatch(r"[a-z0-9-]+", name), name
        match = NAME_RE.match(name)
        assert match, name
        assert match["minor"] == minor.replace(".", "")
        assert match["id"] == ident
        assert profile.startswith(match["profile"])


def test_shipped_profiles_keep_their_whole_id():
    for profile in SHIPPED:
        name = cluster_name(profile, "1.34", "0a1b2c")
        assert name == f"authprobe-{profile}-134-0a1b2c"
        assert NAME_RE.match(name)["profile"] == profile


def test_long_profile_ids_are_cut_to_fit():
    name = cluster_name("x" * 80, "1.34", "r0123abc")
    assert len(name) == MAX_NAME
    assert name.endswith("-134-r0123abc")
    cut = cluster_name("ab-" * 20, "1.36", "0a1b2c")
    assert "--" not in cut and len(cut) <= MAX_NAME


def test_run_tokens_are_six_hex_digits_and_differ():
    tokens = {naming.run_token() for _ in range(20)}
    assert all(re.fullmatch(r"[0-9a-f]{6}", t) for t in tokens)
    assert len(tokens) > 1


@pytest.mark.parametrize("name", ["authprobe-anon-on-134", "kind-anon-on-134-0a1b2c",
                                  "authprobe-anon-on-134-0A1B2C", "authprobe-anon-on-134-r01"])
def test_other_names_are_not_ours(name):
    assert NAME_RE.match(name) is None


def test_private_dir_is_0700_under_the_cache(cache):
    path = naming.private_dir("authprobe-anon-on-134-0a1b2c")
    assert path == cache / "clusters" / "authprobe-anon-on-134-0a1b2c"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700
    absent = naming.private_dir("authprobe-anon-on-134-ffffff", create=False)
    assert not absent.exists()


def test_write_private_is_0600(cache):
    path = cache / "clusters" / "x" / "auth" / "tokens.csv"
    naming.write_private(path, "token,admin,authprobe-admin\n")
    assert path.read_text() == "token,admin,authprobe-admin\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    naming.write_private(path, "new\n")
    assert path.read_text() == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_held_lease_is_not_free_and_cannot_be_taken_twice():
    name = "authprobe-anon-off-134-0a1b2c"
    assert naming.lease_free(name)  # no folder: nobody holds it
    lease = naming.take_lease(name, "0a1b2c", "/work/checkout")
    assert lease is not None and lease.name == name
    try:
        assert not naming.lease_free(name)
        assert naming.take_lease(name, "ffffff", "/elsewhere") is None
        owner = naming.owner_of(name)
        assert owner["run"] == "0a1b2c"  # the second caller did not overwrite it
        assert owner["checkout"] == "/work/checkout"
        assert owner["pid"] == os.getpid()
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", owner["since"])
        assert owner["host"]
    finally:
        lease.release()
    assert naming.lease_free(name)
    again = naming.take_lease(name, "ffffff", "/elsewhere")
    assert again is not None
    assert naming.owner_of(name)["run"] == "ffffff"
    again.release()
    again.release()  # releasing twice is harmless


def test_owner_of_reads_owner_json(cache):
    name = "authprobe-anon-on-135-r0123abc"
    assert naming.owner_of(name) == {}
    folder = naming.private_dir(name)
    (folder / "owner.json").write_text(json.dumps({"run": "abcdef", "checkout": "/c"}))
    assert naming.owner_of(name) == {"run": "abcdef", "checkout": "/c"}
    (folder / "owner.json").write_text("{not json")
    assert naming.owner_of(name) == {}


def test_forget_removes_the_folder(cache):
    name = "authprobe-anon-on-136-0a1b2c"
    lease = naming.take_lease(name, "0a1b2c", "/c")
    naming.write_private(naming.private_dir(name) / "auth" / "tokens.csv", "secret\n")
    lease.release()
    naming.forget(name)
    assert not (cache / "clusters" / name).exists()
    assert naming.owner_of(name) == {}
    assert naming.lease_free(name)
    naming.forget(name)  # forgetting twice is harmless
