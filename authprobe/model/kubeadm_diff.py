"""What ``kubeadm upgrade diff`` says an upgrade in place rewrites, read from its output.

kubeadm prints a unified diff for each static pod manifest (kube-apiserver,
kube-controller-manager, kube-scheduler) that the new minor renders otherwise, between the
manifest on the node and the one it would write, with as many context lines as the
UpgradeConfiguration asks for (none by default), and the files in no fixed order (they come
from a map). Read here:

- each file's hunks, the files in name order; what kubeadm printed besides the diffs is kept
  apart (``said``);
- each removed line placed in its manifest: the dotted path of its field (``livenessProbe.
  failureThreshold``, ``command``), read from the manifest as it was on the node;
- a removed line of the kube-apiserver manifest that drops a hand edit (a flag the profile
  sets by hand, ``apiserver.handEditedArgs``, or a probe field it changes by hand) is marked
  with that edit, named as the verification names what it finds lost (``--request-timeout``,
  ``livenessProbe.failureThreshold``); one that drops a probe change of a kubeadm patch is
  marked too, as kept: ``upgrade diff`` renders without the patches, which ``upgrade apply``
  is given again (seen with kubeadm v1.35.8: liveness-patch's failureThreshold 16 shows as
  removed, and the upgraded cluster keeps it);
- every text normalised, so that the diffs of two runs compare: the node's and the cluster's
  names, the node's address, the ports the harness chose for its servers, hashes and
  temporary paths are replaced by placeholders.

The record (:func:`record`) is plain data, stored with the cluster's upgrade and shown in
the report; its ``changes`` are one line per changed line (a removed one with its field),
the value two runs compare.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

import yaml

APISERVER = "kube-apiserver"
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
HASH = re.compile(r"\b[0-9a-f]{32,}\b")
TEMP_PATH = re.compile(r"/tmp/[^\s\"',]+")
NO_NEWLINE = "\\ No newline at end of file"


@dataclass(frozen=True)
class Edit:
    """A change of the kube-apiserver manifest from what kubeadm renders of its configuration:
    made by hand after kubeadm init, or by a kubeadm patch."""

    key: str  # --flag, or probe.field (httpGet's fields too: livenessProbe.port)
    value: str


def edits(args: Mapping[str, Any], probes: Mapping[str, Mapping[str, Any]]) -> list[Edit]:
    """The edits of flags (``{name: value}``) and probes (``{probe: {field: value}}``)."""
    return ([Edit(f"--{name}", str(value)) for name, value in sorted(args.items())]
            + [Edit(f"{probe}.{name}", str(value))
               for probe, fields in sorted(probes.items()) for name, value in fields.items()])


@dataclass
class Line:
    op: str  # "-", "+" or " " (context)
    text: str
    old: int | None = None  # its line in the manifest on the node ("-" and context lines)
    where: str | None = None  # the field of a removed line
    removes: str | None = None  # the hand edit a removed line drops
    patched: str | None = None  # the patch's change a removed line drops (apply keeps it)


@dataclass
class Hunk:
    at: str  # "-51 +51", as kubeadm numbers the lines
    lines: list[Line] = field(default_factory=list)


@dataclass
class FileDiff:
    path: str
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name


def parse(text: str) -> tuple[list[FileDiff], list[str]]:
    """(the diff of each file, in name order; the other lines of the output)."""
    files: list[FileDiff] = []
    said: list[str] = []
    lines = text.splitlines()
    index = 0
    current: FileDiff | None = None
    while index < len(lines):
        line = lines[index]
        if (line.startswith("--- ") and index + 1 < len(lines)
                and lines[index + 1].startswith("+++ ")):
            current = FileDiff(line[4:].split("\t")[0].strip())
            files.append(current)
            index += 2
            continue
        found = HUNK.match(line)
        if found is None or current is None:
            if line.strip() and not line.startswith(NO_NEWLINE):
                said.append(line)
            index += 1
            continue
        hunk, index = _hunk(found, lines, index + 1, said)
        current.hunks.append(hunk)
    return sorted(files, key=lambda f: f.name), said


def _hunk(header: re.Match, lines: list[str], index: int,
          said: list[str]) -> tuple[Hunk, int]:
    """One hunk: as many lines as its header counts on each side; a line of kubeadm's own
    among them goes to ``said``."""
    old_start, old_count, new_start, new_count = (
        int(header.group(1)), _count(header.group(2)), int(header.group(3)),
        _count(header.group(4)))
    hunk = Hunk(_at(old_start, old_count, new_start, new_count))
    old_left, new_left, old_no = old_count, new_count, old_start
    while (old_left or new_left) and index < len(lines):
        body = lines[index]
        index += 1
        op, text = body[:1], body[1:]
        if op == " " and old_left and new_left:
            hunk.lines.append(Line(op, text, old_no))
            old_no, old_left, new_left = old_no + 1, old_left - 1, new_left - 1
        elif op == "-" and old_left:
            hunk.lines.append(Line(op, text, old_no))
            old_no, old_left = old_no + 1, old_left - 1
        elif op == "+" and new_left:
            hunk.lines.append(Line(op, text))
            new_left -= 1
        elif not body.startswith(NO_NEWLINE):
            said.append(body)
    return hunk, index


def _count(text: str | None) -> int:
    return 1 if text is None else int(text)


def _at(old_start: int, old_count: int, new_start: int, new_count: int) -> str:
    def side(sign: str, start: int, count: int) -> str:
        return f"{sign}{start}" + ("" if count == 1 else f",{count}")

    return f"{side('-', old_start, old_count)} {side('+', new_start, new_count)}"


def field_paths(manifest: str) -> dict[int, str]:
    """Line number (from 1) -> the dotted path of the field on that line, for a manifest as
    YAML text; a list item of scalars is placed at its list (``...command``), an item of
    mappings is named by its ``name`` (``spec.containers[kube-apiserver]``). Empty when the
    text is not YAML."""
    try:
        root = yaml.compose(manifest)
    except yaml.YAMLError:
        return {}
    found: dict[int, str] = {}

    def walk(node: yaml.Node, path: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                named = f"{path}.{key.value}" if path else str(key.value)
                found.setdefault(key.start_mark.line + 1, named)
                walk(value, named)
        elif isinstance(node, yaml.SequenceNode):
            for number, item in enumerate(node.value):
                walk(item, f"{path}[{_item_name(item) or number}]")
        else:
            found.setdefault(node.start_mark.line + 1, re.sub(r"\[[^\]]*\]$", "", path))

    if root is not None:
        walk(root, "")
    return found


def _item_name(node: yaml.Node) -> str | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == "name" and isinstance(value, yaml.ScalarNode):
                return str(value.value)
    return None


def _short(path: str, component: str) -> str:
    """A path within the component's own container without that prefix."""
    return path.removeprefix(f"spec.containers[{component}].")


def _same(text: str, value: str) -> bool:
    """Whether a YAML scalar as written in the manifest is ``value``."""
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError:
        loaded = text
    return text == value or str(loaded) == value


def _dropped(line: Line, edits: list[Edit]) -> str | None:
    """The edit a removed line of the kube-apiserver manifest drops, if any: a flag as a
    ``- --name=value`` item of its command, or a probe's field."""
    content = line.text.strip()
    if content.startswith("- --") and (line.where is None or line.where.endswith(
            ("command", "args"))):
        name, _, value = content[4:].partition("=")
        for edit in edits:
            if edit.key == f"--{name}" and _same(value, edit.value):
                return edit.key
        return None
    parts = (line.where or "").split(".")
    if len(parts) < 2 or parts[0] not in PROBES:
        return None
    value = content.partition(":")[2].strip()
    for edit in edits:
        if edit.key == f"{parts[0]}.{parts[-1]}" and _same(value, edit.value):
            return edit.key
    return None


def placed(files: list[FileDiff], manifests: Mapping[str, str], by_hand: Iterable[Edit],
           by_patch: Iterable[Edit] = ()) -> list[FileDiff]:
    """``files`` with each removed line placed in its manifest (``manifests``: path -> text
    as on the node) and, in the kube-apiserver manifest, marked with the hand edit or the
    patch's change it drops."""
    by_hand, by_patch = list(by_hand), list(by_patch)
    for diff in files:
        component = PurePosixPath(diff.path).stem
        paths = field_paths(manifests.get(diff.path, ""))
        for hunk in diff.hunks:
            for line in hunk.lines:
                if line.op != "-":
                    continue
                found = paths.get(line.old or 0)
                line.where = _short(found, component) if found else None
                if component == APISERVER:
                    line.removes = _dropped(line, by_hand)
                    line.patched = None if line.removes else _dropped(line, by_patch)
    return files


def normalise(text: str, names: Mapping[str, str], ports: Iterable[int] = ()) -> str:
    """``text`` with each of ``names`` (a literal: the node's or cluster's name, an address)
    replaced by its placeholder where it stands alone, the ports given by ``:<port>``,
    hashes by ``<hash>`` and temporary paths by ``/tmp/<temp>``."""
    for literal in sorted(names, key=len, reverse=True):
        if literal:
            text = re.sub(rf"(?<![\w.]){re.escape(literal)}(?!\w)",
                          lambda _m, to=names[literal]: to, text)
    for port in ports:
        text = re.sub(rf":{int(port)}(?!\d)", ":<port>", text)
    text = HASH.sub("<hash>", text)
    return TEMP_PATH.sub("/tmp/<temp>", text)


def record(output: str, manifests: Mapping[str, str], by_hand: Iterable[Edit],
           names: Mapping[str, str], ports: Iterable[int] = (),
           by_patch: Iterable[Edit] = ()) -> dict:
    """The record of one ``kubeadm upgrade diff``: its files and hunks (every line
    normalised; a removed line with its field and the hand edit or patch change it drops),
    ``changes`` (one line per changed line: file, - or +, the line), the hand edits the
    harness made and those the diff drops, the patch changes it shows removed, and what else
    kubeadm said."""
    by_hand, ports = list(by_hand), list(ports)
    files, said = parse(output)
    placed(files, manifests, by_hand, by_patch)

    def clean(text: str) -> str:
        return normalise(text, names, ports)

    shown = []
    changes = []
    for diff in files:
        hunks = []
        for hunk in diff.hunks:
            lines = []
            for line in hunk.lines:
                item: dict[str, Any] = {"op": line.op, "text": clean(line.text)}
                if line.where:
                    item["where"] = line.where
                if line.removes:
                    item["removes_hand_edit"] = line.removes
                if line.patched:
                    item["kept_by_patch"] = line.patched
                lines.append(item)
                if line.op != " ":
                    changes.append(f"{diff.name}: {line.op} {item['text'].strip()}"
                                   + (f" [{line.where}]" if line.where else ""))
            hunks.append({"at": hunk.at, "lines": lines})
        shown.append({"file": diff.path, "hunks": hunks})
    lines = [line for diff in files for hunk in diff.hunks for line in hunk.lines]
    return {"files": shown, "changes": changes,
            "hand_edits": [edit.key for edit in by_hand],
            "removes_hand_edits": list(dict.fromkeys(ln.removes for ln in lines if ln.removes)),
            "shows_patches_removed": list(dict.fromkeys(ln.patched for ln in lines
                                                        if ln.patched)),
            "said": [clean(line) for line in said]}


def summary(record: Mapping[str, Any]) -> str:
    """A record (:func:`record`) in one line: how many lines it changes in how many
    manifests, the hand edits it drops (or that it drops none of them), and the patch
    changes it shows removed that ``upgrade apply`` keeps."""
    changed, files = len(record.get("changes", [])), len(record.get("files", []))
    said = (f"{changed} changed line{'s' if changed != 1 else ''} in {files} "
            f"manifest{'s' if files != 1 else ''}" if changed else "no manifest changes")
    dropped = list(record.get("removes_hand_edits", []))
    edits = list(record.get("hand_edits", []))
    if dropped:
        said += "; drops the hand edit" + ("s " if len(dropped) > 1 else " ") + ", ".join(
            dropped)
    elif edits:
        said += "; drops none of the hand edits " + ", ".join(edits)
    patched = list(record.get("shows_patches_removed", []))
    if patched:
        said += ("; shows the kubeadm patch's " + ", ".join(patched) + " removed, which "
                 "upgrade apply keeps (diff does not read the patches)")
    return said
