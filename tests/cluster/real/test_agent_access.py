"""The agent's identity on a real cluster: enough for every kubectl action a task's solution uses, nothing more."""

from __future__ import annotations

import base64
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from opsgym.cluster.access import (
    AGENT,
    MANAGED_BY,
    NAMESPACE_LABEL,
    agent_access_objects,
    agent_kubeconfig,
    cluster_entry,
    owned,
    write_kubeconfig,
)
from opsgym.cluster.kubectl import parse
from opsgym.cluster.manifests import problems
from opsgym.k8s.kinds import kind_named
from opsgym.sre.render import plan, substitute
from opsgym.tasks import catalog_folders, load_task

TASKS = [t for t in (load_task(f) for f in catalog_folders()) if t.domain == "sre"]
SAFE_VERBS = {"get", "list", "watch", "create", "patch", "update", "delete"}
NEVER_GROUPS = {"rbac.authorization.k8s.io", "authentication.k8s.io", "authorization.k8s.io",
                "certificates.k8s.io", "admissionregistration.k8s.io", "apiextensions.k8s.io", "*"}
NEVER_RESOURCES = {"*", "serviceaccounts/token", "pods/attach", "pods/portforward", "pods/proxy",
                   "services/proxy", "nodes/proxy", "namespaces", "nodes"}
CLUSTER_WIDE_READS = {"namespaces", "nodes"}

# What the API server checks for each kubectl verb of the allowlist: (resource or subresource, API verbs).
KUBECTL_NEEDS: dict[str, list[tuple[str, str, str]]] = {
    "kubectl get": [("{group}", "{resource}", "list"), ("{group}", "{resource}", "get")],
    "kubectl describe": [("{group}", "{resource}", "get"), ("", "events", "list")],
    "kubectl logs": [("", "pods", "get"), ("", "pods", "list"), ("", "pods/log", "get"), ("apps", "deployments",
                                                                                           "get")],
    "kubectl patch": [("{group}", "{resource}", "patch")],
    "kubectl rollout restart": [("apps", "deployments", "patch")],
    "kubectl rollout status": [("apps", "deployments", "get"), ("apps", "replicasets", "list")],
    "kubectl rollout undo": [("apps", "deployments", "patch"), ("apps", "replicasets", "list")],
    "kubectl rollout history": [("apps", "deployments", "get"), ("apps", "replicasets", "list")],
    "kubectl rollout resume": [("apps", "deployments", "patch")],
    "kubectl rollout pause": [("apps", "deployments", "patch")],
    "kubectl set env": [("apps", "deployments", "patch")],
    "kubectl set image": [("apps", "deployments", "patch")],
    "kubectl set resources": [("apps", "deployments", "patch")],
    "kubectl scale": [("apps", "deployments/scale", "patch")],
    "kubectl delete": [("{group}", "{resource}", "delete")],
    "kubectl apply": [("{group}", "{resource}", "get"), ("{group}", "{resource}", "create"),
                      ("{group}", "{resource}", "patch")],
    "kubectl create": [("{group}", "{resource}", "create")],
    "kubectl top": [("metrics.k8s.io", "{resource}", "list")],
}


def _grants(rules: list[dict[str, Any]], group: str, resource: str, verb: str) -> bool:
    return any(group in r["apiGroups"] and resource in r["resources"] and verb in r["verbs"] for r in rules)


def _by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objects}


def test_the_access_objects_are_valid_kubernetes_objects_labelled_as_opsgyms() -> None:
    objects = agent_access_objects("shop", cluster_read=True)
    assert problems(objects) == []
    assert all(owned(o["metadata"]["labels"]) for o in objects)


def test_the_role_and_its_binding_live_in_the_task_namespace_and_bind_only_the_agent() -> None:
    objects = _by_kind(agent_access_objects("shop"))
    assert set(objects) == {"ServiceAccount", "Role", "RoleBinding"}, "no cluster-wide object by default"
    assert {o["metadata"]["namespace"] for o in objects.values()} == {"shop"}
    binding = objects["RoleBinding"]
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": AGENT}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": AGENT, "namespace": "shop"}]
    assert objects["ServiceAccount"]["automountServiceAccountToken"] is False


@pytest.mark.parametrize("cluster_read", [False, True])
def test_no_rule_grants_escalation_credentials_or_anything_outside_the_namespace(cluster_read: bool) -> None:
    for obj in agent_access_objects("shop", cluster_read=cluster_read):
        for rule in obj.get("rules", []):
            assert set(rule["verbs"]) <= SAFE_VERBS, rule
            assert not set(rule["apiGroups"]) & NEVER_GROUPS, rule
            forbidden = NEVER_RESOURCES - (CLUSTER_WIDE_READS if obj["kind"] == "ClusterRole" else set())
            assert not set(rule["resources"]) & forbidden, rule
            if obj["kind"] == "ClusterRole":  # only the namespaced Role may create (its objects go with the episode)
                assert set(rule["verbs"]) <= {"get", "list", "watch"}, rule


def test_the_cluster_wide_view_on_kind_only_reads_and_never_secrets() -> None:
    objects = _by_kind(agent_access_objects("shop", cluster_read=True))
    role, binding = objects["ClusterRole"], objects["ClusterRoleBinding"]
    assert all(set(r["verbs"]) <= {"get", "list", "watch"} for r in role["rules"])
    assert not any("secrets" in r["resources"] for r in role["rules"])
    assert binding["metadata"]["labels"][NAMESPACE_LABEL] == "shop", "teardown finds it by the namespace label"
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": AGENT, "namespace": "shop"}]


@pytest.mark.parametrize("task", [t for t in TASKS if "kind" in t.backends], ids=lambda t: t.id)
def test_every_kubectl_action_of_the_tasks_solution_is_allowed_by_the_role(task: Any) -> None:
    """Otherwise the oracle would fail on kind with Forbidden where it succeeds on the embedded cluster: namespaced
    kinds by the Role, cluster-scoped reads (nodes, StorageClasses, PriorityClasses) by kind's read-only view."""
    episode = plan(task, 0)
    access = _by_kind(agent_access_objects(episode.namespace, cluster_read=True))
    steps = [substitute(s, episode.variables) for s in task.solution if s.startswith("kubectl")]
    assert steps
    for step in steps:
        command = parse(step)
        kinds = [k for t in command.targets for k in t.kind.split(",")] or [None]  # get pods,pvc: each kind
        for kind in kinds:
            row = kind_named(kind) if kind is not None else None
            group, resource = (row.group, row.plural) if row is not None else ("", "")
            namespaced = row is None or row.namespaced
            if namespaced:
                assert command.namespace == episode.namespace, f"{step!r} leaves the task namespace"
            rules = access["Role" if namespaced else "ClusterRole"]["rules"]
            for need_group, need_resource, verb in KUBECTL_NEEDS[command.verb]:
                need = (need_group.format(group=group), need_resource.format(resource=resource))
                granted = _grants(rules, *need, verb) or (namespaced and need == ("", "events") and
                                                          _grants(access["Role"]["rules"], *need, verb))
                assert granted, f"{step!r} needs {verb} on {need}"


ADMIN = {
    "apiVersion": "v1", "kind": "Config", "current-context": "kind-opsgym",
    "clusters": [{"name": "kind-opsgym", "cluster": {"server": "https://127.0.0.1:40001", "certificate-authority":
                                                     "ca.crt"}}],
    "contexts": [{"name": "kind-opsgym", "context": {"cluster": "kind-opsgym", "user": "kind-opsgym"}},
                 {"name": "other", "context": {"cluster": "missing", "user": "x"}}],
    "users": [{"name": "kind-opsgym", "user": {"client-certificate-data": "QURNSU4=", "client-key-data": "S0VZ"}}],
}


def test_the_agent_kubeconfig_holds_the_cluster_and_the_token_but_no_admin_credentials(tmp_path: Path) -> None:
    (tmp_path / "ca.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\nCA\n")
    _, _, cluster = cluster_entry(ADMIN)
    config = agent_kubeconfig(cluster, "the-token", base=tmp_path)
    entry = config["clusters"][0]["cluster"]
    assert entry["server"] == "https://127.0.0.1:40001"
    assert base64.b64decode(entry["certificate-authority-data"]) == b"-----BEGIN CERTIFICATE-----\nCA\n"
    assert config["users"] == [{"name": AGENT, "user": {"token": "the-token"}}]
    assert "namespace" not in config["contexts"][0]["context"], "the agent names the namespace, as on the sim"
    assert "QURNSU4=" not in yaml.safe_dump(config)


def test_cluster_entry_names_what_is_missing() -> None:
    assert cluster_entry(ADMIN, "kind-opsgym")[:2] == ("kind-opsgym", "kind-opsgym")
    with pytest.raises(KeyError, match=r"context 'staging' is not in the kubeconfig .*kind-opsgym, other"):
        cluster_entry(ADMIN, "staging")
    with pytest.raises(KeyError, match="names cluster 'missing'"):
        cluster_entry(ADMIN, "other")


def test_the_kubeconfig_file_is_private_and_replaced_whole(tmp_path: Path) -> None:
    path = tmp_path / "agent.kubeconfig"
    write_kubeconfig(path, {"users": [{"user": {"token": "one"}}]})
    write_kubeconfig(path, {"users": [{"user": {"token": "two"}}]})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert yaml.safe_load(path.read_text())["users"][0]["user"]["token"] == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["agent.kubeconfig"], "no temporary file is left behind"


def test_only_objects_labelled_by_opsgym_count_as_its_own() -> None:
    assert owned({MANAGED_BY: "opsgym", "team": "x"})
    assert not owned({MANAGED_BY: "helm"})
    assert not owned(None)
