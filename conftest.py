"""authprobe's pytest plugins, active for every run from the project root."""

pytest_plugins = ["authprobe.plugin", "authprobe.report.plugin"]
