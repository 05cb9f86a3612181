"""RBAC on the embedded cluster, through the real kubectl: a ServiceAccount's kubeconfig meets the same walls,
Forbidden messages and ``auth can-i``/``whoami`` answers as on kind, while the admin kubeconfig can do anything.

One cluster for the module (kubectl processes are the cost); the tests build on each other like a session.
"""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
import yaml
from simkit import Kubectl

from opsgym.cluster.sim import SimCluster

pytestmark = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")

ACCESS = [
    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}},
    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "agent", "namespace": "shop"}},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
     "metadata": {"name": "pod-reader", "namespace": "shop"},
     "rules": [{"apiGroups": [""], "resources": ["pods", "pods/log"], "verbs": ["get", "list", "watch"]},
               {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["public"], "verbs": ["get"]}]},
    {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
     "metadata": {"name": "agent-reads-pods", "namespace": "shop"},
     "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
     "subjects": [{"kind": "ServiceAccount", "name": "agent", "namespace": "shop"}]},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "public", "namespace": "shop"}, "data": {"a": "1"}},
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "private", "namespace": "shop"}, "data": {"b": "2"}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "shop"},
     "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]}},
]
USER = "system:serviceaccount:shop:agent"


@pytest.fixture(scope="module")
def admin(cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    kubectl = Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("admin-cache"))
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(ACCESS))
    return kubectl


def _as_token(cluster: SimCluster, token: str, folder: Path) -> Path:
    config = yaml.safe_load(cluster.kubeconfig.read_text())
    config["users"][0]["user"]["token"] = token
    config["contexts"][0]["context"]["namespace"] = "shop"
    path = folder / "agent.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def agent(cluster: SimCluster, admin: Kubectl, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    token = admin("create", "token", "agent", "-n", "shop").strip()
    folder = tmp_path_factory.mktemp("agent")
    return Kubectl(_as_token(cluster, token, folder), folder / "cache")


def test_the_default_cluster_roles_and_bindings_of_kind_are_there(admin):
    roles = admin("get", "clusterroles").split()
    assert roles[:4] == ["NAME", "CREATED", "AT", "admin"]
    assert {"cluster-admin", "edit", "view", "system:discovery", "system:basic-user"} <= set(roles)
    wide = admin("get", "clusterrolebinding", "cluster-admin", "-o", "wide").splitlines()
    assert wide[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert wide[1].split()[:2] == ["cluster-admin", "ClusterRole/cluster-admin"] and "system:masters" in wide[1]
    view = yaml.safe_load(admin("get", "clusterrole", "view", "-o", "yaml"))
    assert {"apiGroups": ["apps"], "resources": ["controllerrevisions", "daemonsets", "daemonsets/status",
                                                 "deployments", "deployments/scale", "deployments/status",
                                                 "replicasets", "replicasets/scale", "replicasets/status",
                                                 "statefulsets", "statefulsets/scale", "statefulsets/status"],
            "verbs": ["get", "list", "watch"]} in view["rules"], "view is aggregated from system:aggregate-to-view"
    edit = yaml.safe_load(admin("get", "clusterrole", "edit", "-o", "yaml"))
    assert all(rule in edit["rules"] for rule in view["rules"]) and len(edit["rules"]) > len(view["rules"])


def test_role_bindings_print_their_role_and_subjects(admin):
    out = admin("get", "rolebindings", "-n", "shop", "-o", "wide").splitlines()
    assert out[0].split() == ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"]
    assert out[1].split()[0:2] == ["agent-reads-pods", "Role/pod-reader"] and out[1].split()[-1] == "shop/agent"


def test_whoami_names_the_service_account_and_its_groups(agent, admin):
    out = agent("auth", "whoami")
    assert any(line.split() == ["Username", USER] for line in out.splitlines())
    assert "[system:serviceaccounts system:serviceaccounts:shop system:authenticated]" in out
    assert "authentication.kubernetes.io/credential-id" in out
    assert any(line.split() == ["Username", "kubernetes-admin"] for line in admin("auth", "whoami").splitlines())


def test_can_i_answers_from_the_role(agent):
    assert agent.run("auth", "can-i", "list", "pods").stdout == "yes\n"
    assert agent.run("auth", "can-i", "get", "pods", "--subresource=log").stdout == "yes\n"
    denied = agent.run("auth", "can-i", "delete", "deployments")
    assert (denied.returncode, denied.stdout) == (1, "no\n")
    assert agent.run("auth", "can-i", "list", "pods", "-n", "default").stdout == "no\n"
    assert agent.run("auth", "can-i", "get", "configmap/public").stdout == "yes\n"
    assert agent.run("auth", "can-i", "get", "configmap/private").stdout == "no\n"
    assert agent.run("auth", "can-i", "get", "/healthz").stdout == "yes\n"
    assert agent.run("auth", "can-i", "get", "/metrics").stdout == "no\n"


def test_the_admin_can_do_everything(admin):
    for args in (("create", "deployments", "-n", "shop"), ("delete", "nodes"), ("*", "*", "-A"),
                 ("get", "/metrics")):
        assert admin.run("auth", "can-i", *args).stdout == "yes\n", args


def test_can_i_list_shows_the_rules_of_the_namespace(agent):
    out = agent("auth", "can-i", "--list").splitlines()
    assert out[0].split() == ["Resources", "Non-Resource", "URLs", "Resource", "Names", "Verbs"]
    rows = {line.split()[0]: line for line in out[1:]}
    assert "[get list watch]" in rows["pods"] and "[get list watch]" in rows["pods/log"]
    assert "[public]" in rows["configmaps"]
    assert "selfsubjectaccessreviews.authorization.k8s.io" in rows
    assert any("/healthz" in line for line in out)


def test_allowed_reads_work_and_forbidden_ones_say_exactly_why(agent):
    assert "web" in agent("get", "pods")
    refused = agent.run("get", "secrets")
    assert refused.returncode == 1
    assert refused.stderr.strip() == (f'Error from server (Forbidden): secrets is forbidden: User "{USER}" cannot list '
                                      'resource "secrets" in API group "" in the namespace "shop"')
    named = agent.run("get", "configmap", "private")
    assert (f'configmaps "private" is forbidden: User "{USER}" cannot get resource "configmaps" in API group "" in '
            'the namespace "shop"') in named.stderr
    assert agent("get", "configmap", "public", "-o", "jsonpath={.data.a}") == "1"
    cluster_wide = agent.run("get", "nodes")
    assert (f'nodes is forbidden: User "{USER}" cannot list resource "nodes" in API group "" at the cluster scope'
            in cluster_wide.stderr)
    grouped = agent.run("get", "deployments")
    assert (f'deployments.apps is forbidden: User "{USER}" cannot list resource "deployments" in API group "apps" '
            'in the namespace "shop"') in grouped.stderr
    deleting = agent.run("delete", "pod", "web")
    assert f'pods "web" is forbidden: User "{USER}" cannot delete resource "pods"' in deleting.stderr


def test_a_binding_to_a_missing_role_is_named_in_the_reason(admin, agent):
    admin("create", "rolebinding", "ghost", "--role=missing", "--serviceaccount=shop:agent", "-n", "shop")
    refused = agent.run("get", "services")
    assert refused.stderr.strip().endswith(': RBAC: role.rbac.authorization.k8s.io "missing" not found')
    assert agent.run("auth", "can-i", "list", "services").stdout == \
        'no - RBAC: role.rbac.authorization.k8s.io "missing" not found\n'
    admin("delete", "rolebinding", "ghost", "-n", "shop")


def test_a_bad_or_stale_token_is_unauthorized(cluster, admin, tmp_path):
    bogus = Kubectl(_as_token(cluster, "not-a-token", tmp_path), tmp_path / "cache")
    assert "You must be logged in to the server" in bogus.run("get", "pods").stderr
    admin("create", "serviceaccount", "temp", "-n", "shop")
    token = admin("create", "token", "temp", "-n", "shop").strip()
    temp = Kubectl(_as_token(cluster, token, tmp_path), tmp_path / "cache2")
    assert temp("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}") == "system:serviceaccount:shop:temp"
    admin("delete", "serviceaccount", "temp", "-n", "shop")
    assert "Unauthorized" in temp.run("auth", "whoami").stderr


def test_the_admin_can_impersonate_and_others_cannot(admin, agent):
    assert admin.run("auth", "can-i", "list", "pods", "-n", "shop", "--as", USER).stdout == "yes\n"
    assert admin.run("auth", "can-i", "list", "secrets", "-n", "shop", "--as", USER).stdout == "no\n"
    refused = admin.run("get", "secrets", "-n", "shop", "--as", USER)
    assert f'secrets is forbidden: User "{USER}" cannot list resource "secrets"' in refused.stderr
    assert admin.run("auth", "can-i", "delete", "nodes", "--as", "jane", "--as-group", "system:masters").stdout == \
        "yes\n"
    escalating = agent.run("get", "pods", "--as", "kubernetes-admin")
    assert (f'users "kubernetes-admin" is forbidden: User "{USER}" cannot impersonate resource "users" in API group '
            '"" at the cluster scope') in escalating.stderr


def test_a_legacy_token_secret_is_filled_by_the_token_controller_and_authenticates(cluster, admin, tmp_path):
    admin("apply", "-f", "-", stdin=yaml.safe_dump({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "agent-token", "namespace": "shop",
                     "annotations": {"kubernetes.io/service-account.name": "agent"}}}))
    encoded = admin("get", "secret", "agent-token", "-n", "shop", "-o", "jsonpath={.data.token}")
    token = base64.b64decode(encoded).decode()
    legacy = Kubectl(_as_token(cluster, token, tmp_path), tmp_path / "cache")
    assert legacy("auth", "whoami", "-o", "jsonpath={.status.userInfo.username}") == USER
    admin("delete", "secret", "agent-token", "-n", "shop")
    assert "Unauthorized" in legacy.run("auth", "whoami").stderr


def test_a_cluster_role_labelled_to_aggregate_joins_view(admin):
    admin("apply", "-f", "-", stdin=yaml.safe_dump({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
        "metadata": {"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]}]}))
    for role in ("view", "edit", "admin"):
        rules = yaml.safe_load(admin("get", "clusterrole", role, "-o", "yaml"))["rules"]
        assert {"apiGroups": ["example.com"], "resources": ["widgets"], "verbs": ["get"]} in rules, role


def test_nobody_grants_through_rbac_what_they_do_not_hold(admin, agent):
    admin("create", "role", "rbac-editor", "-n", "shop", "--verb=create,update,patch,get",
          "--resource=roles.rbac.authorization.k8s.io,rolebindings.rbac.authorization.k8s.io")
    admin("create", "rolebinding", "agent-edits-rbac", "-n", "shop", "--role=rbac-editor",
          "--serviceaccount=shop:agent")
    agent("create", "role", "subset", "--verb=get,list", "--resource=pods")
    refused = agent.run("create", "role", "more", "--verb=get,delete", "--resource=pods,secrets")
    groups = '["system:serviceaccounts" "system:serviceaccounts:shop" "system:authenticated"]'
    assert refused.stderr.strip() == (
        'Error from server (Forbidden): roles.rbac.authorization.k8s.io "more" is forbidden: user '
        f'"{USER}" (groups={groups}) is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["pods"], Verbs:["delete"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "delete"]}')
    bound = agent.run("create", "rolebinding", "me-admin", "--clusterrole=admin", "--serviceaccount=shop:agent")
    assert 'rolebindings.rbac.authorization.k8s.io "me-admin" is forbidden: user' in bound.stderr
    agent("create", "rolebinding", "me-subset", "--role=subset", "--serviceaccount=shop:agent")
    admin("create", "role", "binder", "-n", "shop", "--verb=bind", "--resource=clusterroles",
          "--resource-name=view")
    admin("create", "rolebinding", "agent-binds-view", "-n", "shop", "--role=binder", "--serviceaccount=shop:agent")
    agent("create", "rolebinding", "me-view", "--clusterrole=view", "--serviceaccount=shop:agent")
    assert agent.run("auth", "can-i", "list", "deployments").stdout == "yes\n"


def test_exec_needs_create_on_pods_exec(cluster, admin, agent):
    """kubectl exec goes over a WebSocket upgrade, outside the REST routes; it is authorized all the same, and (as
    since 1.30) a role with only ``get`` on ``pods/exec`` is not enough."""
    denied = agent.run("exec", "web", "--", "hostname")
    assert denied.returncode == 1
    assert (f'pods "web" is forbidden: User "{USER}" cannot create resource "pods/exec" in API group "" in the '
            'namespace "shop"') in denied.stderr
    grant = [{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
              "metadata": {"name": "exec-get", "namespace": "shop"},
              "rules": [{"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["get"]}]},
             {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
              "metadata": {"name": "agent-execs", "namespace": "shop"},
              "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "exec-get"},
              "subjects": [{"kind": "ServiceAccount", "name": "agent", "namespace": "shop"}]}]
    admin("apply", "-f", "-", stdin=yaml.safe_dump_all(grant))
    assert 'cannot create resource "pods/exec"' in agent.run("exec", "web", "--", "hostname").stderr
    grant[0]["rules"][0]["verbs"] = ["get", "create"]
    admin("apply", "-f", "-", stdin=yaml.safe_dump_all(grant))
    cluster.advance(30)
    allowed = agent.run("exec", "web", "--", "hostname")
    assert allowed.returncode == 0 and allowed.stdout.strip() == "web", allowed.stderr
