"""One line of what a scenario observed, for cells, JUnit and the console."""

from __future__ import annotations

from authprobe.model.summary import MESSAGE_CHARS, observed_summary, one_line


def test_one_line_joins_whitespace_and_cuts_long_text():
    assert one_line("a\n  b\tc ") == "a b c"
    long = "x" * (MESSAGE_CHARS + 40)
    cut = one_line(long)
    assert len(cut) == MESSAGE_CHARS and cut.endswith("…")
    assert one_line("x" * MESSAGE_CHARS) == "x" * MESSAGE_CHARS
    assert one_line("abcdef", limit=4) == "abc…"


def test_a_request_observation():
    observed = {"status": 403, "message": 'forbidden: User "system:anonymous" cannot get path "/"',
                "audit_user": "system:anonymous", "headers": {"x": "y"}}
    assert observed_summary(observed) == (
        '403 forbidden: User "system:anonymous" cannot get path "/" audited as system:anonymous')


def test_a_401_audited_without_a_user():
    assert observed_summary({"status": 401, "message": "Unauthorized", "audit_user": None}) == (
        "401 Unauthorized audited with no user")


def test_a_control_plane_that_does_not_come_up():
    observed = {"up": False, "exit_code": 1,
                "log_tail": ["I1201 starting", "Error: unknown flag: --insecure-bind-address"]}
    assert observed_summary(observed) == (
        "does not come up exit 1 (Error: unknown flag: --insecure-bind-address)")
    assert observed_summary({"up": True, "log_tail": []}) == "comes up"
    assert observed_summary({"log_tail": "one\nlast line  "}) == "(last line)"


def test_restarts_and_binding():
    assert observed_summary({"restart_shape": "climbs", "restart_cause": "probe-401"}) == (
        "restarts climbs cause probe-401")
    assert observed_summary({"status": 403, "status_after": 200}) == "403 after binding 200"


def test_empty_and_unset_fields_are_left_out():
    assert observed_summary({}) == ""
    assert observed_summary({"status": None, "message": "", "restart_shape": None}) == ""


def test_a_set_of_rule_lines_reads_as_how_many():
    rules = ["[view] apps: deployments (get,list,watch)", "[system:monitoring] url /metrics (get)"]
    assert observed_summary({"default_role_rules": rules}) == "2 rule lines"
