"""After an upgrade in place (``--upgrade-to``): what the upgrade kept of the profile, and
whether the apiserver still reaches the kubelet. Both run only on a cluster an upgrade
reached; the other scenarios run there too, judged by the rows of the new minor.

``kubeadm upgrade apply`` writes the static pod manifests anew from the cluster's kubeadm
configuration and applies the patches it is given: flags and patched probes come back, a
hand edit of the manifest does not (kubeadm#2157). It also renews the apiserver's client
certificate for the kubelet, which ``kubectl logs`` and ``exec`` go through. The kubelet of
the new minor, once restarted, runs the static pods under new pod UIDs."""

import pytest

from authprobe.model.replacement import Replacement

pytestmark = pytest.mark.after_upgrade


def test_profile_kept_after_upgrade(cluster, expected, observe):
    """What the verification finds of the profile after the upgrade; and, before it, what
    ``kubeadm upgrade diff`` said the upgrade rewrites: the hand edits its removed lines drop
    are those found lost after, no more and no fewer."""
    lost = cluster.profile_differences
    flags = [line for line in lost if line.startswith("--")]
    others = [line for line in lost if not line.startswith("--")]
    files = cluster.upgrade.get("auth_files") or []
    changed = [seen["file"] for seen in files if not seen["kept"]]
    rewrites = cluster.upgrade.get("kubeadm_diff")
    dropped = rewrites["removes_hand_edits"] if rewrites else []
    observe(flags_kept=not flags, probes_kept=not others, lost=lost,
            auth_files_kept=bool(files) and not changed)
    if rewrites is not None:
        observe(kubeadm_diff=rewrites["changes"], hand_edits_dropped=dropped)
    observe.evidence(upgrade={k: v for k, v in cluster.upgrade.items() if k != "kubeadm_diff"})
    assert rewrites is not None, "no output of kubeadm upgrade diff was recorded"
    lost_edits = {line.split(" is ")[0] for line in lost} & set(rewrites["hand_edits"])
    assert set(dropped) == lost_edits, (
        f"kubeadm upgrade diff drops the hand edits {sorted(dropped)}, the upgrade lost "
        f"{sorted(lost_edits)}")
    assert files, "no file of the profile's auth folder was read in the node"
    assert (not changed) == expected.auth_files_kept, (
        f"changed or gone by the upgrade: {', '.join(changed)}" if changed
        else "every auth file is as it was written")
    assert (not flags) == expected.flags_kept, "; ".join(flags) or "every flag was kept"
    assert (not others) == expected.probes_kept, (
        "; ".join(others) or "every probe change of the profile was kept")


def test_kubelet_reached_after_upgrade(cluster, expected, observe):
    right_after = cluster.upgrade["right_after"]
    now = cluster.kubelet_reached()
    subject = cluster.upgrade["kubelet_client_subject"]
    observe(kubectl_logs=right_after["logs_ok"], kubectl_exec=right_after["exec_ok"],
            kubectl_logs_later=now["logs_ok"], kubectl_exec_later=now["exec_ok"],
            kubelet_client_subject=subject["after"])
    observe.evidence(right_after=right_after, later=now, kubelet_client_subject=subject,
                     exec_output=right_after["exec"])
    assert right_after["logs_ok"] == expected.kubectl_logs, right_after["logs"]
    assert right_after["exec_ok"] == expected.kubectl_exec, right_after["exec"]
    assert now["logs_ok"] == expected.kubectl_logs, now["logs"]
    assert now["exec_ok"] == expected.kubectl_exec, now["exec"]
    if expected.kubelet_client_subject is not None:
        assert subject["after"] == expected.kubelet_client_subject, subject
    if expected.kubectl_exec:
        assert right_after["exec"] == f"Kubernetes {cluster.version.tag}", (
            f"kube-proxy in the pod exec reached says {right_after['exec']!r}")


def test_apiserver_replaced_by_kubelet_restart(cluster, expected, observe):
    """The kubelet of the new minor names the kube-apiserver static pod anew and replaces it
    when it restarts; the new kube-apiserver may start while the old one still serves and
    exit on its taken port until the old one is stopped. Each such exit is tied to that
    overlap by the runtime's record (its end before the old one's, its last log line). The
    same restart replaces etcd's pod: a kube-apiserver that gave up on etcd while etcd's new
    container waited out its own taken port is tied to that by etcd's record. The restart
    window of the upgraded cluster starts with the kube-apiserver that runs after."""
    replacement = Replacement.from_dict(cluster.upgrade["kubelet_restart"])
    overlap, etcd_swap = replacement.overlap_exits(), replacement.etcd_swap_exits()
    observe(apiserver_replaced=replacement.replaced, replacement_exits=overlap,
            etcd_swap_exits=etcd_swap)
    observe.evidence(kubelet_restart=replacement.to_dict(),
                     exits=[replacement.why(run) for run in replacement.exits])
    assert replacement.replaced == expected.apiserver_replaced, replacement.to_dict()
    other = replacement.unexplained()
    assert not other, "not explained by the replacement: " + "; ".join(
        replacement.why(run) for run in other)
    for name, count in (("replacement_exits", overlap), ("etcd_swap_exits", etcd_swap)):
        assert observe.declarations[name].predicts(getattr(expected, name), count), (
            f"{name} {count}, expected {getattr(expected, name)}: "
            + "; ".join(map(replacement.why, replacement.exits)))
