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
    ones. Example (conftest.py)::

        from authprobe.harness.phases import BRING_UP, Step

        def node_kernel(env, run):
            return run.handle.node.exec("uname", "-r").stdout.strip()

        def pytest_authprobe_lifecycle_steps(config):
            return [Step("kernel", node_kernel, BRING_UP, after="ready")]
    """
