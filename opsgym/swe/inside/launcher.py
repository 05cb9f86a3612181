"""The sandbox's first process: fork the command as the sandbox user with its limits, then report on it.

Run as ``python -I -S -c <this source> UID GID NPROC MEMORY_MB CPU_S FSIZE_MB ISOLATED READY_FD REPORT_FD --
ARGV...`` (stdlib only: it starts before anything else and must not import from the workspace). Under bubblewrap it
is not PID 1 (bwrap's reaper is), so when it exits the PID namespace ends and the kernel kills anything the command
left running.

What it says about the command goes to the host through READY_FD, which the command never holds (close-on-exec) and,
when opsgym runs as root, cannot take from it: the launcher keeps its own uid while only the forked child switches
to the sandbox user, so the command can neither signal the launcher nor open its descriptors. It writes ``1`` when
the sandbox has started, then after the command one JSON event a line: processes left behind, and attempts to reach
a network as the kernel of the sandbox's own network namespace counted them (a route lookup that failed: only
``lo`` exists there, so any address beyond it fails that way, whatever program tried and wherever its stderr went).
REPORT_FD, when not ``-1``, is handed to the command as descriptor 3 (the test-outcome channel of ``pytest_boot``).
"""

import json
import os
import resource
import signal
import sys

_COUNTERS = ("Ip:OutNoRoutes", "Ip6OutNoRoutes")


def _net_counters():
    """The namespace's failed-route counters (IPv4 from ``/proc/net/snmp``, IPv6 from ``/proc/net/snmp6``)."""
    found: dict[str, int] = {}
    try:
        with open("/proc/net/snmp", encoding="ascii") as fh:
            lines = fh.read().splitlines()
        for head, values in zip(lines[::2], lines[1::2], strict=False):
            prefix = head.split()[0]
            found.update((prefix + k, int(v)) for k, v in zip(head.split()[1:], values.split()[1:], strict=False))
        with open("/proc/net/snmp6", encoding="ascii") as fh:
            found.update((k, int(v)) for k, v in (line.split() for line in fh if len(line.split()) == 2))
    except (OSError, ValueError):
        pass
    return {k: found.get(k, 0) for k in _COUNTERS}


def _leftovers():
    me, found = os.getpid(), []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) not in (1, me):
            try:
                with open(f"/proc/{name}/cmdline", "rb") as fh:
                    found.append(fh.read().replace(b"\0", b" ").decode(errors="replace").strip()[:200])
            except OSError:
                continue
    return found


def _child(uid, gid, limits, ready, report, command):
    if report >= 0:
        os.dup2(report, 3)
        if report != 3:
            os.close(report)
    if ready != 3 or report < 0:
        os.close(ready)
    if uid >= 0 and os.getuid() == 0:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    for which, value in limits.items():
        if value > 0:  # CPU: SIGXCPU at the soft limit (reported as such), SIGKILL a second later if ignored
            resource.setrlimit(which, (value, value + (which == resource.RLIMIT_CPU)))
    for name in ("SIGPIPE", "SIGXFSZ", "SIGXFZ"):  # Python ignores these; the command must not inherit that
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    try:
        os.execvp(command[0], command)
    except OSError as exc:
        sys.stderr.write(f"{command[0]}: {exc.strerror}\n")
    os._exit(127)


def main(argv):
    uid, gid, nproc, memory_mb, cpu_s, fsize_mb = (int(a) for a in argv[:6])
    isolated, ready, report, command = argv[6] == "1", int(argv[7]), int(argv[8]), argv[10:]
    os.set_inheritable(ready, False)
    os.write(ready, b"1\n")  # the sandbox started
    limits = {resource.RLIMIT_NPROC: nproc, resource.RLIMIT_AS: memory_mb << 20, resource.RLIMIT_CPU: cpu_s,
              resource.RLIMIT_FSIZE: fsize_mb << 20, resource.RLIMIT_CORE: 0}
    before = _net_counters() if isolated else {}
    pid = os.fork()
    if pid == 0:
        _child(uid, gid, limits, ready, report, command)
    if report >= 0:
        os.close(report)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    events = []
    left = _leftovers() if isolated else []  # only a private PID namespace shows just our processes
    if left:
        events.append({"event": "background-processes", "count": len(left), "commands": left[:10]})
    after = _net_counters() if isolated else {}
    failed = {k: after[k] - before[k] for k in after if after[k] > before[k]}
    if failed:
        events.append({"event": "network", "source": "kernel", "detail": "no route to a non-loopback address",
                       "counters": failed})
    try:
        os.write(ready, "".join(json.dumps(e) + "\n" for e in events).encode())
    except OSError:
        pass
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
