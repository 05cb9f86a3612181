"""The sandbox's first process: drop to the sandbox user, set limits, run the command, report leftovers.

Run as ``python -I -S -c <this source> UID GID NPROC MEMORY_MB CPU_S FSIZE_MB EVENTS SCAN READY_FD -- ARGV...``
(stdlib only: it starts before anything else and must not import from the workspace). Under bubblewrap it is not
PID 1 (bwrap's reaper is), so when it exits the PID namespace ends and the kernel kills anything the command left
running; before that it records those leftovers, so a background process shows up in the episode's sandbox events.
"""

import os
import resource
import signal
import sys


def _event(path, **fields):
    if path:
        import json

        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(fields) + "\n")


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


def main(argv):
    uid, gid, nproc, memory_mb, cpu_s, fsize_mb = (int(a) for a in argv[:6])
    events, scan, ready, command = argv[6], argv[7] == "1", int(argv[8]), argv[10:]
    os.write(ready, b"1")  # tells the host the sandbox started; closed before the command could forge it
    os.close(ready)
    if uid >= 0 and os.getuid() == 0:
        os.setgroups([])
        os.setresgid(gid, gid, gid)
        os.setresuid(uid, uid, uid)
    limits = {resource.RLIMIT_NPROC: nproc, resource.RLIMIT_AS: memory_mb << 20, resource.RLIMIT_CPU: cpu_s,
              resource.RLIMIT_FSIZE: fsize_mb << 20, resource.RLIMIT_CORE: 0}
    for which, value in limits.items():
        if value > 0:  # CPU: SIGXCPU at the soft limit (reported as such), SIGKILL a second later if ignored
            resource.setrlimit(which, (value, value + (which == resource.RLIMIT_CPU)))
    pid = os.fork()
    if pid == 0:
        for name in ("SIGPIPE", "SIGXFSZ", "SIGXFZ"):  # Python ignores these; the command must not inherit that
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), signal.SIG_DFL)
        try:
            os.execvp(command[0], command)
        except OSError as exc:
            sys.stderr.write(f"{command[0]}: {exc.strerror}\n")
        os._exit(127)
    code = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    left = _leftovers() if scan else []
    if left:
        _event(events, event="background-processes", count=len(left), commands=left[:10])
    return 128 - code if code < 0 else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
