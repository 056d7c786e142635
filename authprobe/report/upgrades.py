"""The upgrades in place of a run (``--upgrade-to``) as the report shows them, beside the
matrix that holds their scenarios: for each upgraded cluster, its profile, the outcomes of its
cells before the upgrade and after it, and what ``kubeadm upgrade diff`` said the upgrade
rewrites in the static pod manifests, taken before ``kubeadm upgrade apply`` ran
(:mod:`authprobe.model.kubeadm_diff`: normalised, a removed line placed in its field, and
marked where it drops a hand edit of the kube-apiserver manifest)."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import kubeadm_diff
from ..model.outcome import CellRecord
from ..model.versions import version_key
from .grid import anchor, cell_anchor, counts_line, grid, profiles_in, row_anchor

KEPT_SCENARIO = "profile_kept_after_upgrade"
LINE_CLASSES = {"-": "del", "+": "add", " ": "ctx"}


def removes_words(edit: str) -> str:
    return f"removes a hand edit: {edit}"


def patch_words(edit: str) -> str:
    return f"a kubeadm patch ({edit}): diff leaves it out, apply applies it again"


def _mark(line: dict) -> tuple[str, str]:
    """(the mark's words, its class) of a diff line: the hand edit it removes, or the
    patch change it shows removed though apply keeps it."""
    if line.get("removes_hand_edit"):
        return removes_words(line["removes_hand_edit"]), "hand"
    if line.get("kept_by_patch"):
        return patch_words(line["kept_by_patch"]), "patch"
    return "", ""


def diff_view(record: dict) -> dict:
    """A kubeadm diff record as the pages print it: each line with its class and mark."""
    files = []
    for found in record.get("files", []):
        hunks = []
        for hunk in found.get("hunks", []):
            lines = [{"op": line["op"], "text": line["text"],
                      "css": LINE_CLASSES.get(line["op"], "ctx"),
                      "where": line.get("where") or "",
                      "mark": _mark(line)[0], "mark_css": _mark(line)[1]}
                     for line in hunk.get("lines", [])]
            wheres = [line["where"] for line in lines if line["where"]]
            hunks.append({"at": hunk.get("at", ""), "where": wheres[0] if wheres else "",
                          "lines": lines})
        files.append({"file": found.get("file", ""), "hunks": hunks})
    return {"files": files, "summary": kubeadm_diff.summary(record),
            "said": list(record.get("said", []))}


def _side(cells: Sequence[CellRecord], version: str) -> dict:
    return {"version": version, "counts": counts_line(cells)}


def views(document: dict, cells: Sequence[CellRecord]) -> list[dict]:
    """One view per upgraded cluster of the document, in the order of its cluster records."""
    rows, _, _ = grid(cells)
    found = []
    for record in document.get("clusters", []):
        before = record.get("upgraded_from")
        if not before:
            continue
        name, profile = record.get("name", ""), record.get("profile", "")
        base = name.split("@")[0]
        ours = [c for c in cells if c.cluster == base and c.profile == profile]
        earlier = [c for c in ours if c.upgraded_from is None and c.version == before]
        later = [c for c in ours if c.upgraded_from == before]
        kept = next((c for c in later if c.scenario == KEPT_SCENARIO), None)
        first_row = next((s for p, s in rows if p == profile), None)
        rewrites = record.get("kubeadm_diff")
        found.append({
            "name": name, "profile": profile, "from": before, "to": record.get("version", ""),
            "anchor": anchor("upgrade", name), "cluster_anchor": anchor("cluster", name),
            "before": _side(earlier, before), "after": _side(later, record.get("version", "")),
            "row": row_anchor(profile, first_row) if first_row else None,
            "kept": ({"anchor": cell_anchor(kept), "message": kept.message}
                     if kept is not None else None),
            "diff": diff_view(rewrites) if rewrites is not None else None,
        })
    order = profiles_in([v["profile"] for v in found])
    return sorted(found, key=lambda v: (order.index(v["profile"]), version_key(v["to"]),
                                        v["name"]))


def summary_lines(document: dict, upgraded_from: str) -> list[str]:
    """Markdown lines that say, for each cluster upgraded from ``upgraded_from``, what
    ``kubeadm upgrade diff`` said before the upgrade (the report holds the diff itself)."""
    found = [(record.get("profile", ""), record.get("name", ""), record.get("kubeadm_diff"))
             for record in document.get("clusters", [])
             if record.get("upgraded_from") == upgraded_from]
    if not found:
        return []
    out = [f"kubeadm upgrade diff before the upgrade from {upgraded_from} (the lines are in "
           "the report, under *Upgrades in place*):", ""]
    for profile, name, rewrites in sorted(found):
        said = (diff_view(rewrites)["summary"] if rewrites is not None
                else "no output of kubeadm upgrade diff is recorded")
        out.append(f"- {profile} (`{name}`): {said}")
    return out
