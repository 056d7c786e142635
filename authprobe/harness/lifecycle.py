"""A cluster's lifecycle, as data: every step, in order, with when it runs, the evidence its
failure collects and what runs after it either way (:class:`.phases.Step`).

The stages: ``bring-up`` runs when the cluster is first needed; ``upgrade`` when the
scenarios of the first minor of an upgrade run (``--upgrade-to``) are done, on a record of
the same cluster at the second minor; ``release`` when the scenarios are done with it, while
it still runs; ``end`` when it goes, whether its scenarios are done, a step failed or the run
is interrupted. Each step records a phase of the cluster, timed, in the report; a step that
raises anything fails its phase and leads to the END stage. What a step acquires is undone
by the cleanup it registers on the cluster's record (``run.on_end(name, fn)``), run last
first by ``teardown``, the END stage's last step, or by an interrupt. The limits the steps
use are named in :mod:`authprobe.model.timeouts` (the shipped steps' values per minor in
``clusters/versions.yaml``, ``timeouts``); a step declares its own in ``Step.timeouts``.

A team adds a step without forking: a pytest plugin or conftest.py implements the hook
``pytest_authprobe_lifecycle_steps(config)`` and returns its steps (see
:mod:`authprobe.plugin.hooks`); each goes after the step its ``after`` names, or at the end of
its stage.
"""

from __future__ import annotations

from . import rbac, servers, steps, upgrade
from .phases import BRING_UP, END, RELEASE, STAGES, UPGRADE, Step, arrange


def _fresh(env, run) -> bool:
    return not run.reused


def _probes_by_hand(env, run) -> bool:
    return (bool(run.rendered.manifest_probes or run.rendered.manifest_args)
            and not run.reused)


def _runs_servers(env, run) -> bool:
    return run.profile.runs_servers


def _has_issuer(env, run) -> bool:
    return run.profile.issuer is not None


def _names_rbac(env, run) -> bool:
    return run.profile.rbac is not None


LIFECYCLE = [
    Step("servers", servers.start, BRING_UP, applies=_runs_servers),
    Step("create", steps.create, BRING_UP, applies=_fresh, catch=(steps.export_logs,)),
    Step("probe-patch", steps.patch_probes, BRING_UP, applies=_probes_by_hand,
         catch=(steps.export_logs,)),
    Step("verify", steps.verify, BRING_UP, catch=(steps.export_logs,)),
    Step("connect", steps.connect, BRING_UP, catch=(steps.export_logs,)),
    Step("ready", steps.ready, BRING_UP, catch=(steps.export_logs,)),
    Step("jwt", servers.wait_jwt, BRING_UP, applies=_has_issuer, catch=(steps.export_logs,)),
    Step("rbac", rbac.apply, BRING_UP, applies=_names_rbac, catch=(steps.export_logs,)),
    Step("dashboard", steps.deploy_dashboard, BRING_UP, catch=(steps.export_logs,)),
    Step("settle", upgrade.settle, UPGRADE, catch=(steps.export_logs,)),
    Step("upgrade", upgrade.upgrade, UPGRADE, catch=(steps.export_logs,)),
    Step("verify", upgrade.verify_after, UPGRADE, catch=(steps.export_logs,)),
    Step("connect", steps.connect, UPGRADE, catch=(steps.export_logs,)),
    Step("ready", steps.ready, UPGRADE, catch=(steps.export_logs,)),
    Step("jwt", servers.wait_jwt, UPGRADE, applies=_has_issuer, catch=(steps.export_logs,)),
    Step("evidence", steps.collect_evidence, RELEASE),
    Step("teardown", steps.teardown, END),
]


def lifecycle(added: list[Step] | None = None) -> list[Step]:
    """The shipped steps with a run's added ones in place."""
    return arrange(LIFECYCLE, list(added or []))


__all__ = ["BRING_UP", "END", "LIFECYCLE", "RELEASE", "STAGES", "UPGRADE", "Step", "lifecycle"]
