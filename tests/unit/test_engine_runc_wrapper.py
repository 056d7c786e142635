"""The runc wrapper's argument handling and capability rewriting (pure parts)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import json

from authprobe.host import engine


def _wrapper():
    loader = importlib.machinery.SourceFileLoader("runc_wrapper", str(engine.WRAPPER_SOURCE))
    spec = importlib.util.spec_from_loader("runc_wrapper", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


CAPS = ["CAP_CHOWN", "CAP_SYS_RESOURCE", "CAP_SYS_ADMIN"]


def test_subcommand_skips_global_options_and_their_values():
    wrapper = _wrapper()
    argv = ["--root", "/run/runc", "--log", "/x/log.json", "--log-format", "json", "create",
            "--bundle", "/b", "id"]
    assert argv[wrapper.subcommand(argv)] == "create"
    other = ["--systemd-cgroup", "exec", "id"]
    assert other[wrapper.subcommand(other)] == "exec"
    assert wrapper.subcommand(["--version"]) is None


def test_option_value_forms():
    wrapper = _wrapper()
    assert wrapper.option_value(["--bundle", "/b", "id"], "--bundle", "-b") == "/b"
    assert wrapper.option_value(["--bundle=/c", "id"], "--bundle", "-b") == "/c"
    assert wrapper.option_value(["-b", "/d"], "--bundle", "-b") == "/d"
    assert wrapper.option_value(["id"], "--bundle", "-b") is None


def test_rewrite_config_json_drops_missing_caps(tmp_path):
    wrapper = _wrapper()
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"ociVersion": "1.0.2", "process": {"capabilities": {
        key: list(CAPS) for key in ("bounding", "effective", "permitted")}}}))
    wrapper.rewrite(str(config), {"CAP_SYS_RESOURCE"}, process_only=False)
    caps = json.loads(config.read_text())["process"]["capabilities"]
    assert caps["bounding"] == ["CAP_CHOWN", "CAP_SYS_ADMIN"]
    assert caps["permitted"] == ["CAP_CHOWN", "CAP_SYS_ADMIN"]


def test_rewrite_exec_process_file(tmp_path):
    wrapper = _wrapper()
    process = tmp_path / "process.json"
    process.write_text(json.dumps({"args": ["true"], "capabilities": {"effective": list(CAPS)}}))
    wrapper.rewrite(str(process), {"CAP_SYS_RESOURCE"}, process_only=True)
    assert json.loads(process.read_text())["capabilities"]["effective"] == [
        "CAP_CHOWN", "CAP_SYS_ADMIN"]


def test_real_runc_is_a_placeholder_in_the_source():
    assert "@REAL_RUNC@" in engine.WRAPPER_SOURCE.read_text()


def test_wrapper_source_lives_in_the_package_data():
    assert engine.WRAPPER_SOURCE.is_file()
    assert engine.WRAPPER_SOURCE.parent.name == "data"
    # _install_wrapper swaps this interpreter for the host's, keeping the -S flag.
    assert engine.WRAPPER_SOURCE.read_text().startswith("#!/usr/bin/python3 -S\n")


def test_create_with_short_bundle_option_and_run():
    wrapper = _wrapper()
    argv = ["--root", "/r", "run", "-b", "/bundle", "--detach", "id"]
    at = wrapper.subcommand(argv)
    assert argv[at] == "run"
    assert wrapper.option_value(argv[at + 1:], "--bundle", "-b") == "/bundle"
    assert wrapper.subcommand([]) is None


def test_rewrite_without_capabilities_leaves_the_file_alone(tmp_path):
    wrapper = _wrapper()
    config = tmp_path / "config.json"
    text = json.dumps({"ociVersion": "1.0.2", "process": {"args": ["sh"]}}, indent=1)
    config.write_text(text)
    wrapper.rewrite(str(config), {"CAP_SYS_RESOURCE"}, process_only=False)
    assert config.read_text() == text
    assert not (tmp_path / "config.json.authprobe-tmp").exists()


def test_strip_caps_keeps_other_entries_and_every_set():
    wrapper = _wrapper()
    caps = {key: list(CAPS) for key in ("bounding", "effective", "inheritable", "permitted",
                                        "ambient")}
    caps["note"] = "not a list"
    wrapper.strip_caps(caps, {"CAP_SYS_RESOURCE", "CAP_CHOWN"})
    assert all(caps[key] == ["CAP_SYS_ADMIN"] for key in caps if key != "note")
    assert caps["note"] == "not a list"


def test_missing_caps_follow_this_process_bounding_set():
    wrapper = _wrapper()
    assert wrapper.missing_caps() == ({"CAP_SYS_RESOURCE"} if engine.bounding_lacks(24)
                                      else set())
