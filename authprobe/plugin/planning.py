"""Before any cluster is made: check the expectations against the scenarios and profiles,
decide each item's row (or n/a), and choose the node image of each minor."""

from __future__ import annotations

import ast
import difflib
from pathlib import Path

import pytest

from ..errors import AuthprobeError
from ..harness import images
from ..harness.images import Target
from ..model.cell import Cell
from ..model.expectations import ExpectationTable
from ..model.versions import KubeVersion, SupportedVersion, resolve
from ..paths import scenarios_dir
from ..progress import say
from .cells import ItemPlan
from .options import Selection

CELL_FIXTURE = "authprobe_cluster"
ANY_STATE_MARKER = "control_plane_any"
LAST_MARKER = "runs_last"
AFTER_UPGRADE_MARKER = "after_upgrade"


def scenario_id(item: pytest.Item) -> str:
    """A scenario is named by its test function, without ``test_``."""
    name = getattr(item, "originalname", None) or item.name.split("[")[0]
    return name.removeprefix("test_")


def cell_of(item: pytest.Item) -> Cell | None:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return None
    cell = callspec.params.get(CELL_FIXTURE)
    return cell if isinstance(cell, Cell) else None


def _scenarios_in(folder: Path) -> set[str]:
    """Test functions (scenario ids) defined in the test files of ``folder``."""
    found = set()
    for path in sorted(folder.glob("test_*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        found |= {node.name.removeprefix("test_") for node in ast.walk(tree)
                  if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    return found


def check_expectation_names(table: ExpectationTable, profiles: set[str],
                            folders: set[Path]) -> None:
    """Every row names a scenario that exists and a profile that exists."""
    known = set()
    for folder in {scenarios_dir(), *folders}:
        known |= _scenarios_in(folder)
    for scenario, profile, source in table.pairs():
        if scenario not in known:
            near = difflib.get_close_matches(scenario, sorted(known), n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            raise AuthprobeError(f"expectation file {source} has rows for scenario '{scenario}'"
                                 f", which no scenario file defines{hint}: rename or remove them")
        if profile not in profiles:
            near = difflib.get_close_matches(profile, sorted(profiles), n=1)
            hint = f" (did you mean '{near[0]}'?)" if near else ""
            raise AuthprobeError(f"expectation file {source} has rows for profile '{profile}' "
                                 f"(scenario '{scenario}'), which no profile file defines{hint}")


def choose_images(sel: Selection, registry: bool) -> dict[str, Target]:
    """The image of every minor of the run, said on the console with the reason."""
    if sel.kind_image:
        choice = images.given(sel.kind_image)
        if choice.minor != sel.minors[0]:
            raise AuthprobeError(f"--kind-image {sel.kind_image} holds Kubernetes "
                                 f"{choice.version}: pass --k8s-version {choice.minor} with it")
        targets = {choice.minor: Target(_supported_or_none(choice.minor), choice)}
    else:
        rows = {m: resolve(m) for m in sel.minors}
        targets = {m: Target(row, images.choose(row, sel.policy, registry))
                   for m, row in rows.items()}
    for target in targets.values():
        say(f"node image for {target.choice.describe()}")
    return targets


def added_steps(config: pytest.Config) -> list:
    """The lifecycle steps the run's plugins add (hook ``pytest_authprobe_lifecycle_steps``),
    checked to fit the lifecycle before any cluster is made."""
    from ..harness.lifecycle import lifecycle

    found = [step for steps in config.hook.pytest_authprobe_lifecycle_steps(config=config)
             for step in (steps or [])]
    lifecycle(found)
    return found


def choose_upgrade(sel: Selection, targets: dict[str, Target], registry: bool):
    """The upgrade of the run: to which patch, with artifacts from where (said on the
    console)."""
    from ..harness.pool import Upgrade
    from ..upgradeimage import target_version

    target = resolve(sel.upgrade_to)
    first = targets[sel.minors[0]].choice
    source = images.upgrade_source(first, registry)
    version = target_version(target, source)
    say(f"upgrade to Kubernetes {version}: kubeadm, kubelet, kubectl and images from the "
        + ("published node image and the registry" if source == "published" else
           "offline build") + f", laid into the node image of {first.version}")
    return Upgrade(target, version, source)


def _supported_or_none(minor: str) -> SupportedVersion | None:
    try:
        return resolve(minor)
    except AuthprobeError:
        return None


def upgrade_only_module(path: Path) -> bool:
    """Whether a test module is marked after_upgrade as a whole (its ``pytestmark``): a run
    with no upgrade does not even collect it."""
    if not (path.suffix == ".py" and path.name.startswith("test_")):
        return False
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except (OSError, SyntaxError, ValueError):
        return False  # pytest reports the module itself
    for node in tree.body:
        if (isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in node.targets)):
            return AFTER_UPGRADE_MARKER in ast.unparse(node.value)
    return False


def _not_upgraded(cell: Cell, sel: Selection, versions: dict[str, KubeVersion],
                  expects_down) -> str | None:
    """Why a cell an upgrade reaches has no cluster: its profile was n/a, or its control
    plane does not come up, on the minor it is upgraded from."""
    before = versions[cell.upgraded_from]
    profile = sel.all_profiles[cell.profile].at(before)
    if profile.na:
        return f"there is no cluster to upgrade: on {before} {profile.na}"
    if expects_down(cell.profile, before):
        return (f"there is no cluster to upgrade: the expectations say the control plane of "
                f"{cell.profile} does not come up on {before}")
    return None


def _judged_by_rows(item: pytest.Item, scenario: str, sel: Selection) -> bool:
    """Whether a scenario is judged by expectation rows: one that asks for its row
    (``expected``), and every scenario an expectation file gives rows for, whether or not it
    reads its row itself (the plugin judges every observation the row predicts). A team's
    test with no rows anywhere and no ``expected`` is not judged by rows."""
    return ("expected" in getattr(item, "fixturenames", ())
            or scenario in sel.expectations.scenarios)


def plan_items(items: list[pytest.Item], sel: Selection, versions: dict[str, KubeVersion],
               expects_down) -> dict[pytest.Item, ItemPlan]:
    """Each scenario item's expectation row (or n/a) at the version its minor runs.

    A scenario is judged by its row when it asks for ``expected`` or an expectation file gives
    it rows; where no row holds for the profile and version (a scenario newer than a team's
    rows) its cell runs and is not judged (``unjudged``). A test with no row is n/a where
    its profile is, and where the expectations say the profile's control plane does not
    come up (unless it is marked to run then). A cell an
    upgrade reaches is judged by the rows of the version it was upgraded to; it is n/a where
    there was no cluster to upgrade.
    """
    plans = {}
    for item in items:
        cell = cell_of(item)
        version = versions[cell.minor]
        profile = sel.all_profiles[cell.profile].at(version)
        scenario = scenario_id(item)
        row, na = None, profile.na
        if cell.upgraded_from is not None and na is None:
            na = _not_upgraded(cell, sel, versions, expects_down)
        any_state = item.get_closest_marker(ANY_STATE_MARKER) is not None
        unjudged = False
        if na is None and _judged_by_rows(item, scenario, sel):
            row = sel.expectations.row_for(cell.profile, scenario, version)
            unjudged = row is None
            na = row.na if row is not None else None
        if (na is None and row is None and not any_state
                and expects_down(cell.profile, version)):
            na = (f"the expectations say the control plane of {cell.profile} does not come up "
                  f"on {version}, and this test needs it")
        plans[item] = ItemPlan(cell.profile, cell.minor, str(version), scenario, row, na,
                               str(versions[cell.upgraded_from]) if cell.upgraded_from
                               else None, unjudged=unjudged and na is None)
    return plans


def check_down_profiles(plans: dict[pytest.Item, ItemPlan], expects_down) -> None:
    """A profile whose control plane must not come up runs only the scenarios marked to run
    then; the expectations must mark the others n/a."""
    for item, plan in plans.items():
        if plan.na or plan.row is None or item.get_closest_marker(ANY_STATE_MARKER):
            continue
        if expects_down(plan.profile, KubeVersion.parse(plan.version)):
            raise AuthprobeError(
                f"the expectations say the control plane of {plan.profile} does not come up on "
                f"{plan.version}, but give scenario '{plan.scenario}' a row that needs it: mark "
                f"that row 'na' in {plan.row.source}")


def short_cells_last(items: list[pytest.Item], is_short) -> list[pytest.Item]:
    """The scenario items with every cell's items together and the cells whose control
    plane is expected not to come up (``is_short(cell)``) after the others, order kept
    otherwise. Clusters come up in this order, a fixed number at a time: the long cells
    (each holds its cluster for a restart window) start first, so the quick ones fill the
    slots they free instead of leaving a last wave of windows with the host half idle.
    Cells an upgrade reaches come after every other cell: each cluster is upgraded while the
    scenarios of the first minor go on on the others."""
    first: dict[Cell, int] = {}
    for index, item in enumerate(items):
        first.setdefault(cell_of(item), index)
    order = {item: index for index, item in enumerate(items)}
    return sorted(items, key=lambda item: (cell_of(item).upgraded_from is not None,
                                           bool(is_short(cell_of(item))),
                                           first[cell_of(item)], order[item]))


def last_in_waves(items: list[pytest.Item], cells: list[Cell], wave: int) -> list[pytest.Item]:
    """The items with those marked ``runs_last`` after every other item of the clusters up
    at the same time: ``cells`` (in order) taken ``wave`` at a time, as the pool brings them
    up. A scenario that waits out the restart observation window is marked so: the other
    scenarios of every cluster of the wave then run while the windows are open, instead of
    one cell's after another's window. Items of cells not in ``cells`` (n/a) come first, the
    cells an upgrade reaches last (their clusters are the first minor's, upgraded once its
    scenarios are done); the order is kept otherwise."""
    position = {cell: index // max(1, wave) for index, cell in enumerate(cells)}

    def key(item: pytest.Item) -> tuple:
        cell = cell_of(item)
        if cell not in position:
            return (-1, -1, 0)
        return (int(cell.upgraded_from is not None), position[cell],
                int(item.get_closest_marker(LAST_MARKER) is not None))

    return sorted(items, key=key)  # stable: each cell's order, and the cells', stay
