"""authprobe: end-to-end scenarios on real kind clusters for kube-apiserver authentication
and health probes, per Kubernetes version."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("authprobe")
except PackageNotFoundError:  # imported from a checkout that was never installed
    __version__ = "0+unknown"
