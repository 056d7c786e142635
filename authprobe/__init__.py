"""authprobe: kube-apiserver authentication and health-probe scenarios on real kind clusters."""

__version__ = "0.1.0"
