"""The hooks a team implements (in a pytest plugin or conftest.py) to extend a run."""

from __future__ import annotations

import pluggy
import pytest

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_authprobe_lifecycle_steps(config: pytest.Config) -> list:
    """Lifecycle steps to add to every cluster of the run: a list of
    :class:`authprobe.harness.phases.Step`. Each goes after the step its ``after`` names in
    its stage, or at the end of its stage; its phase shows in the report like the shipped
    ones. A step gets ``env`` (what the run's clusters share) and ``run``, the cluster's
    record (:class:`authprobe.harness.state.ClusterState`: ``run.node``, ``run.found``, ...);
    whatever it raises fails its phase and errors the cluster's cells with its line, and the
    cluster ends. What it starts that must be stopped it registers with
    ``run.on_end(name, fn)``: it runs when the cluster ends, also on an interrupt. A step names
    its own timeouts with their defaults in seconds (``timeouts``) and reads one with
    ``steps.limit(run, name)``; a run overrides them like the shipped ones
    (``--set-timeout kernel=300``). Example (conftest.py)::

        from authprobe.harness.phases import BRING_UP, Step
        from authprobe.harness.steps import limit

        def node_kernel(env, run):
            return run.node.exec("uname", "-r", timeout=limit(run, "kernel")).stdout.strip()

        def pytest_authprobe_lifecycle_steps(config):
            return [Step("kernel", node_kernel, BRING_UP, after="ready",
                         timeouts={"kernel": 120})]
    """
