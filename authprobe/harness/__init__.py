"""The cluster harness: one kind cluster per (profile, Kubernetes version), brought up by
small lifecycle steps (:mod:`.steps`) that a pool schedules (:mod:`.pool`), and handed to
the scenarios as a :class:`.handle.ClusterHandle`."""
