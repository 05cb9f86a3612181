"""The agent's kubectl: parsed and checked, classified for the penalty rules, and never run through a shell."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsgym.cluster.kubectl import DENIED_FLAGS, STREAMING_FLAGS, Kubectl, Rejected, parse
from opsgym.cluster.pflag import parse_args, resolve
from opsgym.errors import BackendUnavailableError


def targets(action: str) -> list[tuple[str, str, str]]:
    return [(t.kind, t.name, t.namespace) for t in parse(action).targets]


@pytest.mark.parametrize("action, cls, verb", [
    ("kubectl get pods -n shop", "read", "kubectl get"),
    ("kubectl describe deploy cart -n shop", "read", "kubectl describe"),
    ("kubectl logs cart-7d9 -n shop --previous", "read", "kubectl logs"),
    ("kubectl rollout status deploy/cart -n shop", "read", "kubectl rollout status"),
    ("kubectl rollout history deploy/cart -n shop", "read", "kubectl rollout history"),
    ("kubectl top pods -n shop", "read", "kubectl top"),
    ("kubectl api-resources", "read", "kubectl api-resources"),
    ("kubectl version", "read", "kubectl version"),
    ("kubectl rollout restart deployment/cart -n shop", "mutate", "kubectl rollout restart"),
    ("kubectl rollout undo deploy/cart -n shop", "mutate", "kubectl rollout undo"),
    ("kubectl set env deploy/cart KV_ADDR=kv:6379 -n shop", "mutate", "kubectl set env"),
    ("kubectl set image deploy/cart cart=python:3.12-slim -n shop", "mutate", "kubectl set image"),
    ("kubectl set resources deploy/cart -c cart --limits=memory=256Mi -n shop", "mutate", "kubectl set resources"),
    ("kubectl scale deploy/cart --replicas=3 -n shop", "mutate", "kubectl scale"),
    ("kubectl label pod x team=shop -n shop", "mutate", "kubectl label"),
    ("kubectl annotate deploy cart note=checked -n shop", "mutate", "kubectl annotate"),
    ("kubectl patch cm cart-config -n shop --type merge -p '{\"data\": {\"MAX_ITEMS\": \"50\"}}'", "mutate",
     "kubectl patch"),
    ("kubectl delete pod cart-7d9 -n shop", "destructive", "kubectl delete"),
    ("kubectl scale deploy cart --replicas=0 -n shop", "destructive", "kubectl scale"),
    ("kubectl scale deploy cart --replicas 0 -n shop", "destructive", "kubectl scale"),
    ("kubectl scale deploy cart --replicas=00 -n shop", "destructive", "kubectl scale"),
    ("kubectl scale deploy cart --replicas=-0 -n shop", "destructive", "kubectl scale"),
    ("kubectl scale deploy cart --replicas=0x0 -n shop", "destructive", "kubectl scale"),
    ("kubectl scale deploy cart --replicas=0x10 -n shop", "mutate", "kubectl scale"),
    ("kubectl delete pod cart-7d9 --grace-period=-0 -n shop", "destructive", "kubectl delete"),
    ("kubectl delete deploy cart -n shop --dry-run=server", "read", "kubectl delete"),
])
def test_verbs_are_classified(action, cls, verb):
    command = parse(action)
    assert (command.cls, command.verb) == (cls, verb)


@pytest.mark.parametrize("action, flag", [
    ("kubectl delete pod x --force --grace-period=0 -n shop", "--force"),
    ("kubectl delete pod x --grace-period=0 -n shop", "--grace-period=0"),
    ("kubectl scale deploy/cart --replicas=0 -n shop", "--replicas=0"),
    ("kubectl patch deploy cart -n shop -p '{\"spec\": {\"replicas\": 0}}'", "--replicas=0"),
    ("kubectl patch deploy cart -n shop --type json -p "
     "'[{\"op\": \"remove\", \"path\": \"/spec/template/spec/containers/0/livenessProbe\"}]'", "removes-probe"),
    ("kubectl patch deploy cart -n shop -p "
     "'{\"spec\": {\"template\": {\"spec\": {\"containers\": [{\"name\": \"cart\", \"readinessProbe\": null}]}}}}'",
     "removes-probe"),
    ("kubectl patch deploy cart -n shop -p "
     "'spec: {template: {spec: {containers: [{name: cart, livenessProbe: {$patch: delete}}]}}}'", "removes-probe"),
    ("kubectl get secret payment-credentials -n shop -o yaml", "reads-secret-data"),
    ("kubectl get secrets -n shop -o jsonpath={.items[0].data}", "reads-secret-data"),
    ("kubectl set env deploy/cart KV_ADDR- -n shop", "removes-env"),
    ("kubectl delete pods --all -n shop", "--all"),
])
def test_penalty_relevant_flags_are_extracted(action, flag):
    command = parse(action)
    assert flag in command.flags
    if flag in ("--force", "--grace-period=0", "--replicas=0", "removes-probe"):
        assert command.cls == "destructive"


def test_listing_secrets_without_their_data_is_not_flagged():
    assert "reads-secret-data" not in parse("kubectl get secrets -n shop").flags
    assert "reads-secret-data" not in parse("kubectl describe secret payment-credentials -n shop").flags


def test_a_harmless_patch_is_a_plain_mutation():
    command = parse("kubectl patch deploy cart -n shop -p '{\"spec\": {\"template\": {\"spec\": {\"containers\": "
                    "[{\"name\": \"cart\", \"readinessProbe\": {\"periodSeconds\": 10}}]}}}}'")
    assert (command.cls, command.flags) == ("mutate", [])
    assert command.detail["patch"]["spec"]["template"]["spec"]["containers"][0]["name"] == "cart"


@pytest.mark.parametrize("action, expected", [
    ("kubectl get pods -n shop", [("Pod", "", "shop")]),
    ("kubectl get pod/a pod/b -n shop", [("Pod", "a", "shop"), ("Pod", "b", "shop")]),
    ("kubectl describe deploy cart checkout --namespace=shop", [("Deployment", "cart", "shop"),
                                                               ("Deployment", "checkout", "shop")]),
    ("kubectl logs cart-7d9 -c cart -nshop", [("Pod", "cart-7d9", "shop")]),
    ("kubectl logs deploy/cart -n shop", [("Deployment", "cart", "shop")]),
    ("kubectl delete ns shop", [("Namespace", "shop", "")]),
    ("kubectl delete svc cart", [("Service", "cart", "default")]),
    ("kubectl set env deployment/cart A=1 B- -n shop", [("Deployment", "cart", "shop")]),
    ("kubectl label deploy cart tier=web -n shop", [("Deployment", "cart", "shop")]),
    ("kubectl get cm,secret -A", [("ConfigMap,Secret", "", "")]),
    ("kubectl -n shop get svc kv", [("Service", "kv", "shop")]),
])
def test_targets_are_extracted_with_canonical_kinds(action, expected):
    assert targets(action) == expected


@pytest.mark.parametrize("action", [
    "kubectl get pods -ojsonpath={.items[*].metadata.name}",
    "kubectl get pods -o=jsonpath={.items[0].status.phase}",
    "kubectl get pods -oyaml",
    "kubectl get pods --output=custom-columns=NAME:.metadata.name",
])
def test_short_flags_take_attached_values_even_with_equals_signs(action):
    command = parse(action + " -n=shop")  # kubectl's flag parser reads -n=shop as -n shop
    assert command.namespace == "shop" and command.cls == "read"


def test_leading_global_flags_stay_with_the_arguments_after_the_verb():
    """cobra removes only the command word; kubectl then reads the rest in their written order, and so do we."""
    command = parse("kubectl -n shop -o wide get pods")
    assert command.argv == ["get", "-n", "shop", "-o", "wide", "pods"]
    assert command.namespace == "shop" and command.targets[0].kind == "Pod"


@pytest.mark.parametrize("action", ["kubectl rollout status deploy/cart -n shop",
                                    "kubectl rollout status -n shop -- deploy/cart"])
def test_rollout_status_never_watches(action):
    """``--watch=false`` goes right after the command words: appended after a ``--`` it would be a positional."""
    assert parse(action).argv[:3] == ["rollout", "status", "--watch=false"]


@pytest.mark.parametrize("action, says", [
    ("kubectl get pods; rm -rf /", "shell syntax"),
    ("kubectl get pods && rm -rf /", "shell syntax"),
    ("kubectl get pods | sh", "shell syntax"),
    ("kubectl get pods > /tmp/out", "shell syntax"),
    ("kubectl get pods < /etc/passwd", "shell syntax"),
    ("kubectl get pods &", "shell syntax"),
    ("kubectl get pods $(cat /etc/passwd)", "command substitution"),
    ("kubectl get pods `id`", "command substitution"),
    ("kubectl get pods\nrm -rf /", "one kubectl command per action"),
    ("kubectl get pods 'unclosed", "check the quotes"),
    ("kubectl get pods --kubeconfig=/root/.kube/config", "--kubeconfig is not allowed"),
    ("kubectl --server=http://10.0.0.1 get pods", "--server is not allowed"),
    ("kubectl get pods -s http://10.0.0.1", "-s is not allowed"),
    ("kubectl get pods --token abc", "--token is not allowed"),
    ("kubectl get pods --context prod", "--context is not allowed"),
    ("kubectl get pods --as system:admin", "--as is not allowed"),
    ("kubectl get pods --insecure-skip-tls-verify", "not allowed"),
    ("kubectl get pods -v=9", "not allowed"),
    ("kubectl get pods -w", "no watching"),
    ("kubectl get pods --watch", "no watching"),
    ("kubectl logs -f cart-1", "no watching"),
    ("kubectl delete -f pods.yaml", "no watching"),
    ("kubectl exec -it cart-1 -- sh", "kubectl exec is not available"),
    ("kubectl port-forward svc/cart 8080", "kubectl port-forward is not available"),
    ("kubectl attach cart-1", "kubectl attach is not available"),
    ("kubectl edit deploy cart", "kubectl patch"),
    ("kubectl create configmap x --from-literal=a=b", "kubectl create is not available"),
    ("kubectl apply -f x.yaml", "manifest file"),
    ("kubectl explain pods", "kubectl explain is not available"),
    ("kubectl config view", "kubeconfig is fixed"),
    ("kubectl frobnicate", "not supported; available verbs"),
    ("kubectl rollout explode deploy/cart", "kubectl rollout supports"),
    ("kubectl get ns default -o jsonpath-file=/etc/passwd", "-o jsonpath-file reads a file"),
    ("kubectl get ns default -ojsonpath-file=envs/sre-1/task.yaml", "-o jsonpath-file reads a file"),
    ("kubectl get ns default --output go-template-file --template=/etc/passwd", "-o go-template-file reads a file"),
    ("kubectl get ns default -o templatefile --template /etc/passwd", "-o templatefile reads a file"),
    ("kubectl get pods -o=custom-columns-file=/etc/passwd", "-o custom-columns-file reads a file"),
    ("kubectl get pods --frobnicate", "unknown or unsupported flag"),
    ("kubectl get pods -n", "-n needs a value"),
    ("kubectl", "needs a verb"),
    ("ls -la", "start with `kubectl`"),
    ("", "start with `kubectl`"),
])
def test_unsupported_or_unsafe_input_is_rejected_with_what_to_do(action, says):
    with pytest.raises(Rejected, match=None) as info:
        parse(action)
    assert says in str(info.value)


def test_shell_characters_inside_quotes_are_plain_arguments():
    command = parse("kubectl patch cm x -n shop --type merge -p '{\"data\": {\"A\": \"a|b; c > d\"}}'")
    assert command.argv[-1] == '{"data": {"A": "a|b; c > d"}}'


VERBS = st.sampled_from(["get", "describe", "logs", "delete", "scale", "patch", "set", "rollout", "exec", "apply",
                         "label", "top", "edit", "x"])
WORDS = st.one_of(st.sampled_from(["pods", "deploy/cart", "-n", "shop", "--replicas=0", "-o", "yaml", "--force",
                                   "--kubeconfig=/x", "-w", "-p", "{}", "env", "restart", ";", "|", "$(id)", "'",
                                   '"', "--", "-", "--server", "-A", "--all", "secret"]),
                  st.text(max_size=12))


@settings(max_examples=1500, deadline=None)
@given(verb=VERBS, words=st.lists(WORDS, max_size=8))
def test_generated_commands_are_either_rejected_or_safe(verb, words):
    action = " ".join(["kubectl", verb, *words])
    try:
        command = parse(action)
    except Rejected as exc:
        assert str(exc)
        return
    assert command.argv[0] in {"get", "describe", "logs", "delete", "scale", "patch", "set", "rollout", "label", "top"}
    assert command.cls in ("read", "mutate", "destructive")
    kubectl_sees, words, rest = resolve(command.argv)  # read back as kubectl will read it
    _, uses = parse_args(kubectl_sees, rest)
    assert not {u.flag.name for u in uses} & (DENIED_FLAGS | STREAMING_FLAGS)


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_never_raises_anything_but_rejected(text):
    try:
        parse(text)
    except Rejected:
        pass


FAKE_KUBECTL = """#!{python}
import json, os, sys
print(json.dumps({{"argv": sys.argv[1:], "env": dict(os.environ), "pgid": os.getpgrp()}}))
sys.exit(int(os.environ.get("FAKE_EXIT", "0")) if "fail" not in sys.argv else 3)
"""


@pytest.fixture
def fake_kubectl(tmp_path: Path) -> Path:
    """A stand-in binary that reports the argv and environment it was started with."""
    binary = tmp_path / "kubectl"
    binary.write_text(FAKE_KUBECTL.format(python=sys.executable))
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    return binary


def test_commands_run_as_an_argv_with_only_the_backend_kubeconfig(fake_kubectl, tmp_path):
    kubectl = Kubectl(tmp_path / "kubeconfig", binary=str(fake_kubectl), sandbox=False)
    result = kubectl.run("kubectl get pods -n shop -l 'app=cart;x'")
    seen = json.loads(result.observation)
    assert seen["argv"] == ["get", "pods", "-n", "shop", "-l", "app=cart;x"]
    assert seen["env"]["KUBECONFIG"] == str(tmp_path / "kubeconfig")
    assert not {"KUBERNETES_SERVICE_HOST", "OPENAI_API_KEY"} & set(seen["env"])
    assert seen["env"]["KUBECACHEDIR"] == str(tmp_path / "cache"), "discovery cache beside the kubeconfig"
    assert seen["env"]["GOGC"] == "off" and seen["env"]["GOMEMLIMIT"], "the collector waits for a memory limit"
    assert seen["env"]["GOMAXPROCS"] == "1"
    assert (result.ok, result.cls, result.verb) == (True, "read", "kubectl get")


def test_kubectl_runs_outside_the_terminals_process_group(fake_kubectl, tmp_path):
    """A terminal's Ctrl-C goes to its foreground group: kubectl must not die mid-step, the runner decides."""
    kubectl = Kubectl(tmp_path / "kubeconfig", binary=str(fake_kubectl), sandbox=False)
    seen = json.loads(kubectl.run("kubectl get pods").observation)
    assert seen["pgid"] != os.getpgrp()


def test_a_failing_command_is_an_observation_not_an_exception(fake_kubectl, tmp_path):
    result = Kubectl(tmp_path / "kubeconfig", binary=str(fake_kubectl), sandbox=False).run("kubectl get pods fail")
    assert not result.ok and result.detail["exit_code"] == 3


def test_a_rejected_action_costs_no_time_and_says_why(fake_kubectl, tmp_path):
    result = Kubectl(tmp_path / "kubeconfig", binary=str(fake_kubectl), sandbox=False).run("kubectl get pods | sh")
    assert (result.cls, result.ok, result.sim_cost_s) == ("invalid", False, 0.0)
    assert result.observation.startswith("Invalid action: shell syntax")


def test_the_real_binary_reports_an_unreachable_server_as_output(tmp_path):
    config = tmp_path / "kubeconfig"
    config.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'http://127.0.0.1:9'}}]\n"
                      "users: [{name: u, user: {}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\n"
                      "current-context: x\n")
    try:
        kubectl = Kubectl(config, timeout_s=20)
    except BackendUnavailableError as exc:
        pytest.skip(str(exc))
    result = kubectl.run("kubectl get pods -n shop")
    assert not result.ok and "127.0.0.1:9" in result.observation


def test_the_default_namespace_comes_from_the_kubeconfig_context(fake_kubectl, tmp_path):
    config = tmp_path / "kubeconfig"
    config.write_text("current-context: x\ncontexts: [{name: x, context: {cluster: c, namespace: shop}}]\n")
    result = Kubectl(config, binary=str(fake_kubectl), sandbox=False).run("kubectl get pods")
    assert [(t.kind, t.namespace) for t in result.targets] == [("Pod", "shop")]
    assert Kubectl(tmp_path / "missing", binary=str(fake_kubectl), sandbox=False).default_namespace == "default"


def test_a_missing_binary_is_an_infrastructure_error(tmp_path):
    with pytest.raises(BackendUnavailableError, match="not on PATH"):
        Kubectl(tmp_path / "kubeconfig", binary="no-such-kubectl-binary")
