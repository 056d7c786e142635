"""The shipped cluster data (profiles, versions.yaml, the Dashboard manifest); installed,
this folder is the package ``authprobe.clusters``."""
