"""The run log's typed records: cells, clusters, phases and series, as outcomes.json holds them."""

from __future__ import annotations

import json
import threading

import pytest

from authprobe.model.outcome import (
    MEANING,
    OUTCOMES,
    PASS,
    SUCCEEDS,
    CellRecord,
    ClusterRecord,
    PhaseRecord,
    RunLog,
)
from authprobe.model.series import Sample


def cell(**kw) -> CellRecord:
    values = {"profile": "anon-off", "scenario": "anonymous_get_root", "minor": "1.34",
              "version": "1.34.12", "outcome": PASS}
    return CellRecord(**{**values, **kw})


def test_every_outcome_has_a_meaning():
    assert set(MEANING) == set(OUTCOMES)
    assert set(SUCCEEDS) < set(OUTCOMES) and "fail" not in SUCCEEDS and "error" not in SUCCEEDS


def test_an_unknown_outcome_is_refused():
    with pytest.raises(ValueError, match="unknown outcome 'passed'"):
        cell(outcome="passed")


def test_cells_round_trip_and_ignore_unknown_keys():
    record = cell(observed={"status": 401}, expected={"status": 401}, cluster="c",
                  duration=1.5)
    data = json.loads(json.dumps(record.to_dict()))
    assert CellRecord.from_dict(data) == record
    assert CellRecord.from_dict({**data, "added_later": 1}) == record
    assert record.key == ("anon-off", "anonymous_get_root", "1.34.12")


def test_run_log_snapshot_is_plain_data():
    log = RunLog()
    log.add_cell(cell())
    log.add_phase(PhaseRecord("c", "anon-off", "1.34.12", "create", 41.0, "passed"))
    log.add_cluster(ClusterRecord("c", "anon-off", "1.34", "1.34.12", "img", "build",
                                  "v0.33.0", came_up=True, probe_budget=250.0, window=330.0))
    log.set_series("c", [Sample(0.0, 0, False, None, "api"), Sample(10.0, 1, False, "Error",
                                                                    "runtime")])
    log.set_probe_evidence("c", [{"path": "/livez", "code": 401, "user": None, "count": 3}],
                           [{"probe": "Startup", "status": 401, "count": 3}])
    log.add_problem("one line")
    log.add_problem("one line")
    snap = log.snapshot()
    assert json.loads(json.dumps(snap)) == snap
    assert snap["cells"][0]["outcome"] == PASS
    assert snap["clusters"][0]["window"] == 330.0
    assert snap["series"]["c"][1] == {"t": 10.0, "restarts": 1, "ready": False,
                                      "last_reason": "Error", "source": "runtime",
                                      "started": None}
    assert snap["problems"] == ["one line"]
    assert snap["probe_results"]["c"][0]["count"] == 3


def test_run_log_takes_cells_from_several_threads():
    log = RunLog()
    threads = [threading.Thread(target=lambda: [log.add_cell(cell()) for _ in range(200)])
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(log.snapshot()["cells"]) == 800
