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

from opsgym.cluster.kubectl import DENIED_FLAGS, FILE_FLAGS, Kubectl, Rejected, parse
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
    ("kubectl get pods | sh", "'sh' is not available: pipes go only to these filters"),
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
    ("kubectl delete -f pods.yaml", "-f pods.yaml reads a file or URL"),
    ("kubectl debug cart-1 -it --image=busybox", "kubectl debug is not available"),
    ("kubectl port-forward svc/cart 8080", "kubectl port-forward is not available"),
    ("kubectl attach cart-1", "kubectl attach is not available"),
    ("kubectl edit deploy cart", "kubectl patch"),
    ("kubectl create token default", "kubectl create token is not available"),
    ("kubectl apply -f x.yaml", "as a heredoc"),
    ("kubectl proxy", "kubectl proxy is not available"),
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
    assert command.argv[0] in {"get", "describe", "logs", "delete", "scale", "patch", "set", "rollout", "label", "top",
                               "exec", "apply"}
    assert command.cls in ("read", "mutate", "destructive")
    kubectl_sees, words, rest = resolve(command.argv)  # read back as kubectl will read it
    _, uses = parse_args(kubectl_sees, rest)
    assert not {u.flag.name for u in uses} & DENIED_FLAGS
    for use in uses:  # a file reaches kubectl only as the action's own heredoc on -f -
        assert use.flag.name not in FILE_FLAGS or (use.flag.name, use.value, command.stdin is not None) == (
            "filename", "-", True)


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
    result = Kubectl(tmp_path / "kubeconfig", binary=str(fake_kubectl), sandbox=False).run("kubectl get pods; id")
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


# ---------------------------------------------------------------------------------------- #17: the wider action surface
MANIFEST = ("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-heredoc\ndata:\n"
            "  greeting: \"hi | there; $(id)\"\n")


@pytest.mark.parametrize("action", [
    f"kubectl apply -f - -n default <<EOF\n{MANIFEST}EOF",
    f"kubectl apply -f - <<'EOF'\n{MANIFEST}EOF\n",
    f"cat <<EOF | kubectl apply -f -\n{MANIFEST}EOF",
    f"kubectl apply -f- <<-END\n\t{MANIFEST.replace(chr(10), chr(10) + chr(9))}END",
])
def test_a_heredoc_manifest_is_applied_as_written(sim_cluster, action):
    kubectl = Kubectl(sim_cluster.kubeconfig)
    result = kubectl.run(action)
    assert result.ok, result.observation
    assert result.observation == "configmap/from-heredoc created\n"
    assert (result.cls, [(t.kind, t.name, t.namespace) for t in result.targets]) == (
        "mutate", [("ConfigMap", "from-heredoc", "default")])
    assert result.detail["stdin"]["heredoc"] in ("EOF", "END")
    seen = kubectl.run("kubectl get cm from-heredoc -o jsonpath={.data.greeting}")
    assert seen.observation == "hi | there; $(id)", "nothing in a heredoc is expanded or run"


def test_replace_and_delete_read_the_heredoc_too(sim_cluster):
    kubectl = Kubectl(sim_cluster.kubeconfig)
    assert kubectl.run(f"kubectl create -f - <<EOF\n{MANIFEST}EOF").ok
    replaced = kubectl.run(f"kubectl replace -f - <<EOF\n{MANIFEST.replace('hi', 'bye')}EOF")
    assert replaced.observation == "configmap/from-heredoc replaced\n" and replaced.cls == "mutate"
    deleted = kubectl.run(f"kubectl delete -f - <<EOF\n{MANIFEST}EOF")
    assert deleted.ok and deleted.cls == "destructive"
    assert [(t.kind, t.name) for t in deleted.targets] == [("ConfigMap", "from-heredoc")]


def test_the_heredoc_is_kubectls_stdin_and_nothing_else_is(fake_kubectl, tmp_path):
    reader = tmp_path / "kubectl-stdin"
    reader.write_text(FAKE_KUBECTL.replace('"pgid"', '"stdin": sys.stdin.read(), "pgid"').format(python=sys.executable))
    reader.chmod(reader.stat().st_mode | stat.S_IEXEC)
    kubectl = Kubectl(tmp_path / "kubeconfig", binary=str(reader), sandbox=False)
    seen = json.loads(kubectl.run(f"kubectl apply -f - <<EOF\n{MANIFEST}EOF").observation)
    assert (seen["stdin"], seen["argv"]) == (MANIFEST, ["apply", "-f", "-"])
    assert json.loads(kubectl.run("kubectl get pods").observation)["stdin"] == "", "no heredoc: an empty stdin"


@pytest.mark.parametrize("action, says", [
    ("kubectl apply -f -", "-f - reads the manifest from standard input, which an action has only as a heredoc"),
    ("kubectl apply -f /etc/passwd", "-f /etc/passwd reads a file or URL"),
    ("kubectl apply -f http://10.0.0.1/x.yaml", "reads a file or URL"),
    ("kubectl apply --filename=/etc/passwd", "reads a file or URL"),
    ("kubectl apply -f/etc/passwd", "reads a file or URL"),
    (f"kubectl apply -f /etc/passwd <<EOF\n{MANIFEST}EOF", "reads a file or URL"),
    (f"kubectl apply -f - -f /etc/passwd <<EOF\n{MANIFEST}EOF", "reads a file or URL"),
    ("kubectl apply -k /etc", "-k reads files"),
    (f"kubectl apply -R -f - <<EOF\n{MANIFEST}EOF", "-R reads files"),
    ("kubectl create configmap x --from-file=/etc/passwd", "--from-file reads files"),
    ("kubectl create configmap x --from-env-file=/proc/self/environ", "--from-env-file reads files"),
    ("kubectl create secret generic x --from-file=key=/root/.ssh/id_rsa", "--from-file reads files"),
    ("kubectl create secret tls x --cert=/etc/ssl/a.crt --key=/etc/ssl/a.key", "kubectl create secret tls is not"),
    ("kubectl create token default", "tokens are credentials"),
    ("kubectl create --edit -f - <<EOF\nkind: x\nEOF", "--edit reads files"),
    ("kubectl exec -f - x -- id <<EOF\nkind: x\nEOF", "-f - is not supported here"),
    (f"kubectl get pods <<EOF\n{MANIFEST}EOF", "the heredoc is kubectl's standard input, which only -f - reads"),
    (f"kubectl apply -f - <<EOF\n{MANIFEST}", "the heredoc is not closed"),
    (f"kubectl apply -f - <<EOF\n{MANIFEST}EOF\nkubectl delete ns shop", "nothing may follow the heredoc"),
    (f"kubectl apply -f - <<EOF <<END\n{MANIFEST}EOF", "one delimiter"),
    (f"kubectl apply -f - --kubeconfig=/root/.kube/config <<EOF\n{MANIFEST}EOF", "--kubeconfig is not allowed"),
    (f"kubectl create --raw /api/v1/namespaces/x/pods -f - <<EOF\n{MANIFEST}EOF", "--raw is only read here"),
    ("cat /etc/passwd | kubectl apply -f -", "cat only passes a heredoc"),
    (f"cat <<EOF | kubectl apply -f - <<END\n{MANIFEST}EOF", "one delimiter"),
    ("kubectl edit deploy cart -n shop", "`kubectl patch TYPE NAME -p '...'`, `kubectl set env|image|resources`, or "
                                         "`kubectl apply -f - <<EOF`"),
    ("kubectl port-forward svc/cart 8080:8080", "kubectl exec POD -- wget"),
    ("kubectl cp cart-1:/etc/x /tmp/x", "kubectl exec POD -- cat PATH"),
    ("kubectl attach cart-1 -it", "kubectl logs POD"),
    ("kubectl proxy --port=8001", "kubectl get --raw PATH"),
    ("kubectl debug cart-1 --image=busybox", "kubectl run NAME --image=busybox"),
    ("kubectl auth reconcile -f x.yaml", "kubectl auth reconcile is not available"),
    ("kubectl create frobnicator x", "kubectl create supports: clusterrole"),
    ("kubectl get pods --user=admin", "--user is not allowed"),
])
def test_manifests_come_only_from_the_action_and_host_files_stay_unreadable(action, says):
    with pytest.raises(Rejected) as info:
        parse(action)
    assert says in str(info.value)


@pytest.mark.parametrize("action, cls, verb, expected", [
    ("kubectl create configmap x --from-literal=a=b -n shop", "mutate", "kubectl create configmap",
     [("ConfigMap", "x", "shop")]),
    ("kubectl create deployment web --image=nginx --replicas=2 -n shop", "mutate", "kubectl create deployment",
     [("Deployment", "web", "shop")]),
    ("kubectl create secret generic s --from-literal=k=v -n shop", "mutate", "kubectl create secret generic",
     [("Secret", "s", "shop")]),
    ("kubectl create service clusterip web --tcp=80:8080 -n shop", "mutate", "kubectl create service clusterip",
     [("Service", "web", "shop")]),
    ("kubectl create namespace extra", "mutate", "kubectl create namespace", [("Namespace", "extra", "")]),
    ("kubectl create clusterrolebinding b --clusterrole=view --user=alice", "mutate",
     "kubectl create clusterrolebinding", [("ClusterRoleBinding", "b", "")]),
    ("kubectl create rolebinding b --role=r --user=alice --group=devs -n shop", "mutate", "kubectl create rolebinding",
     [("RoleBinding", "b", "shop")]),
    ("kubectl create job once --from=cronjob/nightly -n shop", "mutate", "kubectl create job",
     [("Job", "once", "shop")]),
    ("kubectl create quota q --hard=pods=10 -n shop", "mutate", "kubectl create quota",
     [("ResourceQuota", "q", "shop")]),
    ("kubectl create priorityclass high --value=1000", "mutate", "kubectl create priorityclass",
     [("PriorityClass", "high", "")]),
    ("kubectl wait --for=condition=Available deploy/cart -n shop --timeout=60s", "read", "kubectl wait",
     [("Deployment", "cart", "shop")]),
    ("kubectl auth can-i delete pods -n shop", "read", "kubectl auth can-i", []),
    ("kubectl auth can-i --list", "read", "kubectl auth can-i", []),
    ("kubectl auth whoami -o yaml", "read", "kubectl auth whoami", []),
    ("kubectl explain deploy.spec.strategy --recursive", "read", "kubectl explain", []),
    ("kubectl events -n shop --for pod/cart-1 --types=Warning", "read", "kubectl events", []),
    ("kubectl top pod -n shop --containers", "read", "kubectl top", [("Pod", "", "shop")]),
    ("kubectl top node", "read", "kubectl top", [("Node", "", "")]),
    ("kubectl cordon node-1", "mutate", "kubectl cordon", [("Node", "node-1", "")]),
    ("kubectl uncordon node-1", "mutate", "kubectl uncordon", [("Node", "node-1", "")]),
    ("kubectl drain node-1 --ignore-daemonsets --delete-emptydir-data", "destructive", "kubectl drain",
     [("Node", "node-1", "")]),
    ("kubectl drain node-1 --dry-run=server", "read", "kubectl drain", [("Node", "node-1", "")]),
    ("kubectl taint nodes node-1 dedicated=db:NoSchedule", "mutate", "kubectl taint", [("Node", "node-1", "")]),
    ("kubectl taint node node-1 dedicated=db:NoExecute", "destructive", "kubectl taint", [("Node", "node-1", "")]),
    ("kubectl taint nodes node-1 dedicated:NoSchedule-", "mutate", "kubectl taint", [("Node", "node-1", "")]),
    ("kubectl autoscale deploy cart --min=2 --max=5 --cpu-percent=80 -n shop", "mutate", "kubectl autoscale",
     [("Deployment", "cart", "shop")]),
    ("kubectl expose deploy cart --port=80 --target-port=8080 -n shop", "mutate", "kubectl expose",
     [("Deployment", "cart", "shop")]),
    ("kubectl run dbg --image=busybox --restart=Never -n shop -- wget -qO- http://cart:8080", "mutate", "kubectl run",
     [("Pod", "dbg", "shop")]),
    ("kubectl exec cart-1 -n shop -- env", "read", "kubectl exec", [("Pod", "cart-1", "shop")]),
    ("kubectl exec deploy/cart -n shop -c cart -- cat /config/app.yaml", "read", "kubectl exec",
     [("Deployment", "cart", "shop")]),
    ("kubectl exec cart-1 -n shop -- sh -c 'nslookup kv && wget -qO- http://kv:6379'", "read", "kubectl exec",
     [("Pod", "cart-1", "shop")]),
    ("kubectl exec cart-1 -n shop -- sh -c 'echo x > /tmp/f'", "mutate", "kubectl exec", [("Pod", "cart-1", "shop")]),
    ("kubectl exec cart-1 -n shop -- redis-cli FLUSHALL", "mutate", "kubectl exec", [("Pod", "cart-1", "shop")]),
    ("kubectl exec kv-1 -n shop -- redis-cli GET k", "read", "kubectl exec", [("Pod", "kv-1", "shop")]),
    ("kubectl exec cart-1 -n shop -- kill 1", "destructive", "kubectl exec", [("Pod", "cart-1", "shop")]),
    ("kubectl exec cart-1 -n shop -- sh -c 'ls; rm -rf /data'", "destructive", "kubectl exec",
     [("Pod", "cart-1", "shop")]),
    ("kubectl apply -f - --prune -l app=x <<EOF\nkind: ConfigMap\nmetadata: {name: a}\nEOF", "destructive",
     "kubectl apply", [("ConfigMap", "a", "default")]),
    ("kubectl replace --force -f - <<EOF\nkind: Pod\nmetadata: {name: p, namespace: shop}\nEOF", "destructive",
     "kubectl replace", [("Pod", "p", "shop")]),
    ("kubectl apply -f - <<EOF\nkind: List\nitems:\n- {kind: Namespace, metadata: {name: a}}\n"
     "- {kind: Service, metadata: {name: b}}\nEOF", "mutate", "kubectl apply",
     [("Namespace", "a", ""), ("Service", "b", "default")]),
    ("kubectl apply --server-side --force-conflicts -f - <<EOF\n---\nkind: Secret\nmetadata: {name: s}\n---\nEOF",
     "mutate", "kubectl apply", [("Secret", "s", "default")]),
    ("kubectl get pods -n shop -w", "read", "kubectl get", [("Pod", "", "shop")]),
    ("kubectl logs -f deploy/cart -n shop", "read", "kubectl logs", [("Deployment", "cart", "shop")]),
])
def test_the_new_verbs_are_classified_and_targeted(action, cls, verb, expected):
    command = parse(action)
    assert (command.cls, command.verb) == (cls, verb)
    assert [(t.kind, t.name, t.namespace) for t in command.targets] == expected


@pytest.mark.parametrize("action, argv, notice", [
    ("kubectl exec -it cart-1 -n shop -- sh -c 'env'", ["exec", "-it", "cart-1", "-n", "shop", "--stdin=false",
                                                        "--tty=false", "--", "sh", "-c", "env"], "without standard"),
    ("kubectl exec cart-1 -i -- env", ["exec", "cart-1", "-i", "--stdin=false", "--", "env"], "--stdin=false"),
    ("kubectl run dbg -it --rm --image=busybox --restart=Never -- sh", [
        "run", "dbg", "-it", "--rm", "--image=busybox", "--restart=Never", "--rm=false", "--stdin=false",
        "--tty=false", "--", "sh"], "kubectl logs NAME"),
])
def test_there_is_no_terminal_so_exec_and_run_turn_theirs_off(action, argv, notice):
    command = parse(action)
    assert command.argv == argv and command.detail["argv"] == argv
    assert notice in command.notices[0]
    kubectl_sees, _, rest = resolve(command.argv)  # the inserted flags are still flags, and they win
    _, uses = parse_args(kubectl_sees, rest)
    last = {u.flag.name: u.value for u in uses}
    assert all(last.get(name, "false") == "false" for name in ("stdin", "tty", "rm"))


SLOW_KUBECTL = """#!{python}
import sys, time
print("first line", flush=True)
time.sleep(60)
print("never")
"""


@pytest.fixture
def slow_kubectl(tmp_path: Path) -> Path:
    binary = tmp_path / "kubectl"
    binary.write_text(SLOW_KUBECTL.format(python=sys.executable))
    binary.chmod(binary.stat().st_mode | stat.S_IEXEC)
    return binary


@pytest.mark.parametrize("action", ["kubectl logs -f cart-1 -n shop", "kubectl get pods -n shop -w",
                                    "kubectl get pods -w | grep line", "kubectl events -n shop --watch"])
def test_a_stream_is_stopped_when_the_actions_time_is_up_and_keeps_what_it_printed(slow_kubectl, tmp_path, action):
    kubectl = Kubectl(tmp_path / "kubeconfig", binary=str(slow_kubectl), sandbox=False, stream_s=1)
    result = kubectl.run(action)
    assert result.observation.startswith("first line\n")
    assert "never" not in result.observation
    assert "(stopped after 1 s: a stream runs until the action's time runs out" in result.observation
    assert result.ok and result.detail["exit_code"] is None


def test_a_command_that_does_not_finish_in_time_is_stopped_and_says_so(slow_kubectl, tmp_path):
    kubectl = Kubectl(tmp_path / "kubeconfig", binary=str(slow_kubectl), sandbox=False, timeout_s=1, stream_s=5)
    result = kubectl.run("kubectl wait --for=condition=Ready pod/x -n shop --timeout=10m")
    assert result.observation.startswith("first line\n") and "kubectl did not finish before" in result.observation
    assert (result.ok, result.error, kubectl.stream_s) == (False, "timeout", 1)


def test_the_new_verbs_reach_the_embedded_cluster_through_the_sandbox(sim_cluster):
    """Where the simulator already serves them: create (protobuf bodies), wait, exec, auth, explain, cordon, taint,
    expose, autoscale and a filtered read, each as one action through the agent's sandboxed kubectl."""
    kubectl = Kubectl(sim_cluster.kubeconfig)
    steps = [
        ("kubectl create deployment web --image=nginx --replicas=1", "deployment.apps/web created\n"),
        ("kubectl create configmap settings --from-literal=mode=fast", "configmap/settings created\n"),
        ("kubectl wait --for=condition=Available deploy/web --timeout=60s", "deployment.apps/web condition met\n"),
        ("kubectl exec -it deploy/web -- env | grep -c '^HOSTNAME='", "1\n"),
        ("kubectl auth can-i get pods", "yes\n"),
        ("kubectl explain deploy.spec.replicas | grep -c 'FIELD: replicas'", "1\n"),
        ("kubectl cordon node-1", "node/node-1 cordoned\n"),
        ("kubectl taint nodes node-2 dedicated=db:NoSchedule", "node/node-2 tainted\n"),
        ("kubectl expose deploy web --port=80", "service/web exposed\n"),
        ("kubectl autoscale deploy web --min=1 --max=3", "horizontalpodautoscaler.autoscaling/web autoscaled\n"),
        ("kubectl get cm settings -o json | jq -r .data.mode", "fast\n"),
    ]
    for action, expected in steps:
        result = kubectl.run(action)
        assert result.observation.startswith(expected), (action, result.observation)
        sim_cluster.advance(10)
