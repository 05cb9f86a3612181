"""opsgym's policy over kubectl's grammar: which commands an agent may run, with which flags, and what each one is.

The parser (:mod:`opsgym.cluster.pflag`) says what kubectl will read; this module says what opsgym allows of it and
how the scoring classes it. Commands are paths in kubectl's command tree (``create secret generic``); each has a class
(read / mutate / destructive) before its flags are read (:mod:`opsgym.cluster.kubectl_notes` then upgrades a forced or
zero-replica change to destructive, and reads a dry run as a read). Refusals name what to do instead. The flag policy
keeps every hole of #15 closed: nothing chooses another cluster, identity or credentials, nothing reads a host file
(``-f PATH``, ``--from-file``, ``--cert``, file output formats), and a manifest reaches kubectl only as the action's own
heredoc on ``-f -``. There is no terminal: ``-i``/``-t``/``--rm``/``--attach`` of ``exec`` and ``run`` are turned off
(the command runs without one, and the observation says so).
"""

from __future__ import annotations

import shlex

from opsgym.outcome import ActionClass

__all__ = ["ALLOWED_FLAGS", "CLASSES", "DENIED_FLAGS", "DENIED_WHY", "FILE_FLAGS", "FILE_OUTPUTS", "LOCAL_FLAGS",
           "OUTPUT_FORMATS", "REFUSED_COMMANDS", "STDIN_COMMANDS", "STREAMING_FLAGS", "TERMINAL_FLAGS", "UNSUPPORTED",
           "exec_class"]

CREATE_GENERATORS = ("clusterrole", "clusterrolebinding", "configmap", "cronjob", "deployment", "ingress", "job",
                     "namespace", "poddisruptionbudget", "priorityclass", "quota", "role", "rolebinding",
                     "secret docker-registry", "secret generic", "service clusterip", "service externalname",
                     "service loadbalancer", "service nodeport", "serviceaccount")
CLASSES: dict[str, ActionClass] = {
    **dict.fromkeys(("get", "describe", "logs", "top pod", "top node", "events", "api-resources", "api-versions",
                     "version", "cluster-info", "rollout status", "rollout history", "auth can-i", "auth whoami",
                     "explain", "wait"), "read"),
    **dict.fromkeys(("scale", "patch", "label", "annotate", "rollout restart", "rollout undo", "rollout pause",
                     "rollout resume", "set env", "set image", "set resources", "create", "apply", "replace",
                     "autoscale", "expose", "run", "cordon", "uncordon", "taint", "exec"), "mutate"),
    **{f"create {g}": "mutate" for g in CREATE_GENERATORS},
    "delete": "destructive",
    "drain": "destructive",
}
"""The commands the agent may run (paths in kubectl's command tree) and their class before flags are read. ``exec`` is
re-classed by the command it runs (:func:`exec_class`), ``taint`` with a ``NoExecute`` effect evicts pods."""
UNSUPPORTED = {
    "attach": "there is no terminal to attach; read a container's output with `kubectl logs POD` (add -f to follow "
              "it until the action's time runs out)",
    "port-forward": "port forwarding is not supported: reach a Service from inside the cluster with `kubectl exec "
                    "POD -- wget -qO- http://SERVICE:PORT/PATH`, and check it with `kubectl get endpoints NAME`",
    "proxy": "the API proxy is not supported: kubectl get/describe read the API, `kubectl get --raw PATH` any path",
    "cp": "copying files is not supported: read a file with `kubectl exec POD -- cat PATH`, write an object with "
          "`kubectl apply -f - <<EOF`",
    "debug": "debug containers are not supported: run a debug pod with `kubectl run NAME --image=busybox "
             "--restart=Never -- CMD` and read it with `kubectl logs NAME`, or `kubectl exec POD -- CMD`",
    "edit": "there is no interactive editor: change objects with `kubectl patch TYPE NAME -p '...'`, `kubectl set "
            "env|image|resources`, or `kubectl apply -f - <<EOF` with the whole manifest in the action",
    "config": "the kubeconfig is fixed for this episode; pass -n NAMESPACE to choose a namespace",
    "plugin": "kubectl plugins are not available",
    "certificate": "certificate signing requests are not available",
    "kustomize": "kustomize reads a folder on the host; put the rendered manifest in a heredoc: kubectl apply -f - "
                 "<<EOF",
    "diff": "kubectl diff needs a diff program, which actions do not have; compare `kubectl get TYPE NAME -o yaml` "
            "with `kubectl apply -f - --dry-run=server -o yaml <<EOF`",
}
"""Top-level commands refused with what to use instead."""
REFUSED_COMMANDS = {
    "create token": "service-account tokens are credentials and are not handed out here; `kubectl auth can-i "
                    "--list` shows what the episode's identity may do",
    "create secret tls": "kubectl create secret tls reads --cert/--key files on the host; write the Secret (type "
                         "kubernetes.io/tls, data tls.crt/tls.key base64) with `kubectl apply -f - <<EOF`",
    "auth reconcile": "kubectl auth reconcile reads a file; apply RBAC objects with `kubectl apply -f - <<EOF`",
}
"""Commands kubectl has below an allowed one that actions may not run."""
DENIED_FLAGS = frozenset({
    "kubeconfig", "server", "token", "context", "cluster", "user", "as", "as-group", "as-uid", "username",
    "password", "insecure-skip-tls-verify", "certificate-authority", "client-certificate", "client-key",
    "tls-server-name", "cache-dir", "v", "vmodule", "log-file", "log-dir", "profile", "profile-output",
})
"""Flags (long names) that choose another cluster, identity, credentials, or write or log on the host."""
DENIED_WHY = ("is not allowed: the episode's cluster, identity and kubeconfig are fixed (and verbose logging would "
              "print credentials)")
FILE_FLAGS = frozenset({"filename", "kustomize", "recursive", "from-file", "from-env-file", "cert", "key",
                        "patch-file", "edit", "windows-line-endings"})
"""Flags that read files, folders or URLs on the machine running kubectl (or open an editor). ``-f -`` is the one
exception: the manifest comes from the action's heredoc."""
STREAMING_FLAGS = frozenset({"watch", "watch-only", "follow"})
"""``get -w``, ``events -w``, ``logs -f``: allowed, and stopped when the action's time runs out."""
TERMINAL_FLAGS = frozenset({"stdin", "tty", "attach", "rm", "leave-stdin-open"})
"""What ``exec``/``run`` would need a terminal for; set to false, with a note in the observation."""
STDIN_COMMANDS = frozenset({"apply", "create", "replace", "delete"})
"""Commands that read a manifest from ``-f -``."""
LOCAL_FLAGS = frozenset({("explain", "recursive"), ("create rolebinding", "user"),
                         ("create clusterrolebinding", "user")})
"""A command's own flag that shares a name with a denied or file flag and means something harmless there (``explain
--recursive`` prints nested fields; ``create rolebinding --user`` names a subject)."""
ALLOWED_FLAGS = frozenset({
    "namespace", "output", "selector", "field-selector", "container", "patch", "env", "label-columns", "sort-by",
    "tail", "since", "since-time", "limit-bytes", "type", "replicas", "current-replicas", "limits", "requests",
    "containers", "to-revision", "revision", "grace-period", "cascade", "timeout", "dry-run", "template",
    "resource-version", "from", "max-log-requests", "field-manager", "chunk-size", "request-timeout", "subresource",
    "api-group", "verbs", "pod-running-timeout", "raw", "for", "types", "all-namespaces", "show-labels", "no-headers",
    "previous", "timestamps", "all-containers", "overwrite", "all", "force", "now", "show-kind", "local",
    "ignore-not-found", "list", "namespaced", "show-managed-fields", "show-events", "ignore-errors",
    "prefix", "help", "allow-missing-template-keys", "wait",
    # streaming (bounded by the action's time) and the commands added with #17
    "watch", "watch-only", "output-watch-events", "follow", "all-pods", "server-print", "sum", "quiet",
    "from-literal", "image", "port", "schedule", "restart", "rule", "class", "annotation", "default-backend",
    "clusterrole", "role", "serviceaccount", "group", "verb", "resource", "resource-name", "non-resource-url",
    "aggregation-rule", "hard", "scopes", "min-available", "max-unavailable", "value", "global-default",
    "description", "preemption-policy", "tcp", "node-port", "external-name", "clusterip", "docker-server",
    "docker-username", "docker-password", "docker-email", "append-hash", "save-config", "validate",
    "server-side", "force-conflicts", "prune", "prune-allowlist", "openapi-patch",
    "min", "max", "cpu-percent", "name", "target-port", "protocol", "labels", "external-ip", "cluster-ip",
    "load-balancer-ip", "session-affinity", "overrides", "override-type", "annotations", "command",
    "image-pull-policy", "expose", "privileged", "ignore-daemonsets", "delete-emptydir-data", "disable-eviction",
    "pod-selector", "skip-wait-for-delete-timeout", "api-version", "use-protocol-buffers",
})
"""The flags (long names) an agent may pass, where its command has them. A flag the table knows but this set does not
is refused (``--patch-file`` reads a host file, for one)."""
OUTPUT_FORMATS = frozenset({"json", "yaml", "wide", "name", "jsonpath", "jsonpath-as-json", "go-template",
                            "template", "custom-columns", "plaintext", "plaintext-openapiv2"})
"""``-o`` formats allowed (the part before ``=``); an allowlist, so no spelling of a file format gets through."""
FILE_OUTPUTS = frozenset({"jsonpath-file", "go-template-file", "templatefile", "custom-columns-file"})
"""Output formats whose argument is a path kubectl opens on the machine it runs on (the host, for an episode)."""

READ_PROGRAMS = frozenset({
    "cat", "ls", "env", "printenv", "ps", "id", "hostname", "whoami", "nslookup", "getent", "dig", "host", "ping",
    "wget", "curl", "df", "du", "free", "uname", "date", "pwd", "echo", "head", "tail", "grep", "wc", "stat", "find",
    "which", "mount", "netstat", "ss", "ip", "ifconfig", "top", "uptime", "true", "sleep", "test", "[", "nc",
    "redis-cli", "sort", "uniq", "cut", "awk", "sed", "tr", "less", "more", "file", "readlink", "realpath", "dirname",
    "basename", "md5sum", "sha256sum", "base64", "jq", "timeout", "sh", "bash", "ash",
})
"""Programs an ``exec`` may run without changing anything (as its first word, or every command of ``sh -c``)."""
DESTRUCTIVE_PROGRAMS = frozenset({"rm", "kill", "pkill", "killall", "shutdown", "reboot", "halt", "dd", "mkfs",
                                  "truncate", "shred"})
WRITING_OPTIONS = {"sed": ("-i", "--in-place"), "curl": ("-X", "--request", "-d", "--data", "-T", "--upload-file"),
                   "wget": ("--post-data", "--post-file", "--method"), "redis-cli": ()}
"""Options that make an otherwise reading program write (``sed -i``, ``curl -X POST``); any redis-cli command but a
read is a write, so it counts as one unless it only asks (``GET``, ``KEYS``, ``INFO``, ``PING`` …)."""
REDIS_READS = frozenset({"get", "mget", "keys", "scan", "info", "ping", "ttl", "pttl", "exists", "type", "dbsize",
                         "hget", "hgetall", "lrange", "smembers", "zrange", "strlen", "llen", "scard", "config"})


def _program_class(words: list[str]) -> ActionClass:
    program = words[0].rsplit("/", 1)[-1] if words else ""
    if program in DESTRUCTIVE_PROGRAMS:
        return "destructive"
    if program in ("sh", "bash", "ash") and "-c" in words[1:-1]:
        return _script_class(words[words.index("-c") + 1])
    if program not in READ_PROGRAMS:
        return "mutate"
    if program == "redis-cli":
        commands = [w for w in words[1:] if not w.startswith("-")]
        return "read" if not commands or commands[0].lower() in REDIS_READS else "mutate"
    if any(w.split("=")[0] in WRITING_OPTIONS.get(program, ()) or (w.startswith("-i") and program == "sed")
           for w in words[1:]):
        return "mutate"
    return "read"


def _script_class(script: str) -> ActionClass:
    """The class of a ``sh -c`` script: the worst of its commands (split at ``;``, ``&&``, ``||``, ``|``)."""
    try:
        lexer = shlex.shlex(script, posix=True, punctuation_chars=";&|<>()")
        lexer.whitespace_split = True
        tokens = list(lexer)
    except ValueError:
        return "mutate"
    if any(t in (">", ">>") for t in tokens):
        return "mutate"
    commands: list[list[str]] = [[]]
    for token in tokens:
        if token in (";", "&&", "||", "|", "&", "(", ")"):
            commands.append([])
        else:
            commands[-1].append(token)
    classes = [_program_class(c) for c in commands if c]
    for cls in ("destructive", "mutate"):
        if cls in classes:
            return cls
    return "read"


def exec_class(command: list[str]) -> ActionClass:
    """``kubectl exec POD -- COMMAND``: a read when the command only looks (``cat``, ``env``, ``wget`` a page, ``sh -c``
    over such commands), destructive when it removes or kills, a change otherwise."""
    return _program_class(command) if command else "read"
