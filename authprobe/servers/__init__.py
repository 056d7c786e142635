"""The servers a cluster's kube-apiserver talks to: an OIDC/JWT issuer and a webhook authorizer.

Each runs on the machine that runs authprobe, as HTTPS with a certificate from a CA made for
that cluster (:mod:`.pki`), bound to an address the caller gives (for a kind cluster, the
kind network's gateway, which the node reaches). Each keeps a structured log of what it
served, for the report. :mod:`.apiconfig` renders the ``AuthenticationConfiguration`` and
``AuthorizationConfiguration`` files that point kube-apiserver at them, with the
``apiVersion`` and fields each Kubernetes minor takes (``clusters/apiserver-config.yaml``).
"""
