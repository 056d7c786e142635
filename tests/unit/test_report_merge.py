"""``authprobe merge`` on recorded real runs: a profile on a version is one cluster, and a
later input's cluster replaces an earlier one's whole."""

from __future__ import annotations

from pathlib import Path

import pytest

from authprobe.report import document
from authprobe.report.merge import merge

DATA = Path(__file__).parent / "data"


def merged(tmp_path: Path, *names: str) -> dict:
    return merge([document.load(DATA / name) for name in names], tmp_path)


def units(records: list[dict]) -> set[tuple[str, str]]:
    return {(r["profile"], r["version"]) for r in records}


def keys(cells: list[dict]) -> set[tuple[str, str, str]]:
    return {(c["profile"], c["scenario"], c["version"]) for c in cells}


def test_a_job_run_again_replaces_its_part_of_the_sweep_and_nothing_else(tmp_path):
    sweep = document.load(DATA / "outcomes-sweep-1.19-1.37.json").data
    job = document.load(DATA / "outcomes-1.34.json").data
    out = merged(tmp_path, "outcomes-sweep-1.19-1.37.json", "outcomes-1.34.json")
    replaced = units(job["cells"])
    assert replaced and all(version == "1.34.12" for _, version in replaced)
    assert keys(out["cells"]) == (
        {k for k in keys(sweep["cells"]) if (k[0], k[2]) not in replaced} | keys(job["cells"]))
    # the kubelet profile, absent from the job, keeps its sweep cells on 1.34.12
    assert ("kubelet-anon-on", "1.34.12") in units(out["cells"])
    for kind in ("clusters", "restart_series", "phases", "probe_results"):
        names = {r.get("name") or r.get("cluster") for r in out[kind]
                 if (r["profile"], r["version"]) in replaced}
        assert names == {r.get("name") or r.get("cluster") for r in job[kind]}, kind
    assert out["run"]["merged_from"] == [sweep["run"]["id"], job["run"]["id"]]
    assert out["run"]["counts"] == {
        name: sum(1 for c in out["cells"] if c["outcome"] == name)
        for name in out["run"]["counts"]}


@pytest.mark.parametrize("names, status", [
    # the failing anon-off cell of restart-exit is replaced by the main job's anon-off
    (("restart-exit-1.34.json", "outcomes-1.34.json"), 0),
    # ... and replaces it when given last: its failure is kept, so is the exit status
    (("outcomes-1.34.json", "restart-exit-1.34.json"), 1),
    # authprobe 0.1's job with two errors, all four profiles run again
    (("outcomes-1.34-authprobe-0.1.json", "outcomes-1.34.json"), 0),
])
def test_the_merged_exit_status_is_that_of_what_is_kept(tmp_path, names, status):
    out = merged(tmp_path, *names)
    assert out["run"]["exit_status"] == status
    last = document.load(DATA / names[-1]).data
    assert units(last["cells"]) <= units(out["cells"])
    kept = [c for c in out["cells"] if (c["profile"], c["version"]) in units(last["cells"])]
    assert keys(kept) == keys(last["cells"])
    failed = [c for c in out["cells"] if c["outcome"] in ("fail", "error")]
    assert bool(failed) == bool(status)


def test_logs_of_a_replaced_cluster_are_not_copied_along(tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, name in ((first, "restart-exit-1.34.json"), (second, "restart-causes-1.34.json")):
        data = document.load(DATA / name).data
        folder.mkdir()
        document.write(data, folder)
        for cluster in data["clusters"]:
            log = folder / "logs" / cluster["name"] / "kubelet.log"
            log.parent.mkdir(parents=True)
            log.write_text("journal\n")
    out = tmp_path / "out"
    out.mkdir()
    result = merge([document.load(first), document.load(second)], out)
    on_disk = {p.name for p in (out / "logs").iterdir()}
    assert on_disk == {c["name"] for c in result["clusters"]}
    assert {e["cluster"] for e in result["logs"]} == on_disk
