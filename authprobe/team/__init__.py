"""What a team brings of its own cluster: its kubeadm configuration imported as a profile
(:mod:`.importer`), and the expectation rows recorded from its runs (:mod:`.recorded`)."""
