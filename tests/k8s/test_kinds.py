"""The one kind table: every name kubectl resolves for a kind we know maps to that kind, and nothing else does.

The facts below are those of a real API server's discovery (``kubectl api-resources`` on Kubernetes 1.32): plural,
short names, group and scope. The embedded cluster's own discovery is checked against the same table through the real
kubectl, so a short name the simulator serves but the scoring does not know (or the reverse) fails here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import Counter

import pytest

from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.kinds import SERVED
from opsgym.k8s.kinds import KIND_ALIASES, KINDS, canonical_kind, kind_named

API_RESOURCES = {
    # kind: (plural, short names, group, namespaced) as `kubectl api-resources` prints them
    "Namespace": ("namespaces", ("ns",), "", False),
    "Node": ("nodes", ("no",), "", False),
    "Pod": ("pods", ("po",), "", True),
    "Service": ("services", ("svc",), "", True),
    "Endpoints": ("endpoints", ("ep",), "", True),
    "ConfigMap": ("configmaps", ("cm",), "", True),
    "Secret": ("secrets", (), "", True),
    "ServiceAccount": ("serviceaccounts", ("sa",), "", True),
    "Event": ("events", ("ev",), "", True),
    "PersistentVolumeClaim": ("persistentvolumeclaims", ("pvc",), "", True),
    "PersistentVolume": ("persistentvolumes", ("pv",), "", False),
    "Deployment": ("deployments", ("deploy",), "apps", True),
    "ReplicaSet": ("replicasets", ("rs",), "apps", True),
    "StatefulSet": ("statefulsets", ("sts",), "apps", True),
    "DaemonSet": ("daemonsets", ("ds",), "apps", True),
    "Job": ("jobs", (), "batch", True),
    "CronJob": ("cronjobs", ("cj",), "batch", True),
    "HorizontalPodAutoscaler": ("horizontalpodautoscalers", ("hpa",), "autoscaling", True),
    "EndpointSlice": ("endpointslices", (), "discovery.k8s.io", True),
    "Ingress": ("ingresses", ("ing",), "networking.k8s.io", True),
    "NetworkPolicy": ("networkpolicies", ("netpol",), "networking.k8s.io", True),
    "Role": ("roles", (), "rbac.authorization.k8s.io", True),
    "RoleBinding": ("rolebindings", (), "rbac.authorization.k8s.io", True),
    "ClusterRole": ("clusterroles", (), "rbac.authorization.k8s.io", False),
    "ClusterRoleBinding": ("clusterrolebindings", (), "rbac.authorization.k8s.io", False),
    "ResourceQuota": ("resourcequotas", ("quota",), "", True),
    "LimitRange": ("limitranges", ("limits",), "", True),
    "StorageClass": ("storageclasses", ("sc",), "storage.k8s.io", False),
    "IngressClass": ("ingressclasses", (), "networking.k8s.io", False),
    "PodDisruptionBudget": ("poddisruptionbudgets", ("pdb",), "policy", True),
    "PriorityClass": ("priorityclasses", ("pc",), "scheduling.k8s.io", False),
}


def test_the_table_holds_each_kind_once_with_the_api_servers_names():
    assert Counter(k.kind for k in KINDS) == Counter(API_RESOURCES.keys())
    for kind, (plural, short, group, namespaced) in API_RESOURCES.items():
        row = kind_named(kind)
        assert (row.plural, row.short_names, row.group, row.namespaced) == (plural, short, group, namespaced), kind


@pytest.mark.parametrize("kind", sorted(API_RESOURCES))
def test_every_name_kubectl_accepts_for_a_kind_resolves_to_it(kind):
    plural, short, group, _ = API_RESOURCES[kind]
    row = kind_named(kind)
    names = [kind, kind.lower(), kind.upper(), plural, plural.capitalize(), *short]
    if group:  # kubectl also accepts the group-qualified forms: deployments.apps, deployment.v1.apps
        names += [f"{plural}.{group}", f"{kind.lower()}.{group}", f"{plural}.{row.version}.{group}"]
    else:  # and the core group's empty suffix: secrets.v1.
        names += [f"{plural}.{row.version}."]
    assert {name: canonical_kind(name) for name in names} == {name: kind for name in names}


def test_no_alias_names_two_kinds():
    """The alias table is built from the rows; a name two rows claim would silently resolve to the later one."""
    claimed = Counter(alias for k in KINDS for alias in {k.singular, k.plural, *k.short_names})
    assert [alias for alias, n in claimed.items() if n > 1] == []
    assert set(KIND_ALIASES) == set(claimed)


@pytest.mark.parametrize("word", ["Widget", "widgets.example.com", "certificates.cert-manager.io", ""])
def test_words_that_name_no_kind_we_know_come_back_unchanged(word):
    """Custom resources keep their names, so a rule about them can still match the word as written."""
    assert canonical_kind(word) == word


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
def test_kubectl_api_resources_on_the_embedded_cluster_agrees_with_the_table(tmp_path):
    """Every row the simulator's discovery serves, as the real kubectl reads it: each NAME and SHORTNAME resolves
    to the row's KIND, and scope and group are the table's."""
    with SimCluster() as sim:
        env = {**os.environ, "KUBECONFIG": str(sim.kubeconfig), "KUBECACHEDIR": str(tmp_path)}
        out = subprocess.run(["kubectl", "api-resources", "--no-headers"], env=env, capture_output=True, text=True,
                             timeout=60, check=True).stdout
    seen = set()
    for line in out.splitlines():
        cells = line.split()
        name, api_version, namespaced, kind = cells[0], cells[-3], cells[-2], cells[-1]
        if api_version == "metrics.k8s.io/v1beta1":  # metrics-server's aggregated API: read-only views, not kinds
            continue
        shorts = cells[1].split(",") if len(cells) == 5 else []
        assert canonical_kind(name) == kind and all(canonical_kind(s) == kind for s in shorts), line
        row = kind_named(kind)
        assert (row.api_version, row.namespaced, tuple(shorts)) == (api_version, namespaced == "true",
                                                                    row.short_names), line
        seen.add(kind)
    assert seen == set(SERVED)
