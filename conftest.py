"""The repository's own tests. authprobe's pytest plugin is registered by its ``pytest11``
entry point (tox installs the package), so nothing needs loading here; the plugin tests
use pytester."""

pytest_plugins = ["pytester"]
