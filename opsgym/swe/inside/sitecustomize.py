"""Installed on the sandbox's PYTHONPATH: records every socket connect / name lookup / datagram a Python process
attempts (the network is already gone; this makes the attempt visible so the scoring can penalise it)."""

import os
import sys

_PATH = os.environ.get("OPSGYM_SANDBOX_EVENTS", "")
_WATCHED = {"socket.connect": 1, "socket.getaddrinfo": 0, "socket.gethostbyname": 0, "socket.sendto": 2}


def _target(event, args):
    value = args[_WATCHED[event]] if len(args) > _WATCHED[event] else None
    if isinstance(value, tuple) and value:
        return str(value[0]), value[1] if len(value) > 1 else None
    return (str(value) if value is not None else ""), (args[1] if event == "socket.getaddrinfo" else None)


def _hook(event, args):
    if event not in _WATCHED or not _PATH:
        return
    try:
        host, port = _target(event, args)
        if event == "socket.connect" and not isinstance(args[1], tuple):
            return  # a unix socket path, not the network
        import json  # only now: importing it at start-up would slow every Python process in the sandbox

        with open(_PATH, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"event": "socket", "call": event, "host": host, "port": str(port)}) + "\n")
    except Exception:  # an audit hook must never break the program it watches
        return


sys.addaudithook(_hook)
