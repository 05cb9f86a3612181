"""opsgym_runtime: the small API that opsgym's service programs are written against.

This one file is shipped into the cluster next to the programs (in the programs ConfigMap, mounted at ``/app``), so
on a real cluster ``python /app/cart.py`` runs with nothing but the standard library: it reads its environment and
config files, logs to stdout, connects to its dependencies over TCP, really allocates memory, answers HTTP probes and
exits with real exit codes. The embedded cluster runs the *same* file and the *same* programs with a simulated host
swapped in (``opsgym.runtime.sim``), so whatever fixes a task on the simulator fixes it on kind.

Everything that touches the outside world goes through ``_host``; the rest (log formats, config parsing, dependency
policy) is shared by both worlds by construction. A program looks like::

    import opsgym_runtime as rt

    cfg = rt.read_config("/etc/shop/cart.conf")
    rt.dependency("kv", rt.env("KV_ADDR", "kv:6379"))
    rt.allocate(int(cfg["cache_mb"]), what="item cache")
    rt.serve(int(rt.env("PORT", "8080")), routes={"/cart": lambda: {"items": 0}})

A route answers a request with a JSON object; it may ``call`` its own dependencies, so one request through the
storefront exercises the whole shop.
"""

from __future__ import annotations

import json
import os
import random as _random
import sys
import time

__all__ = [
    "CallError",
    "Config",
    "allocate",
    "argv",
    "call",
    "call_all",
    "debug",
    "dependency",
    "env",
    "error",
    "exit",
    "fail",
    "info",
    "log",
    "now",
    "random",
    "read_config",
    "read_file",
    "serve",
    "service",
    "sleep",
    "warning",
]

LEVELS = {"debug": 10, "info": 20, "warning": 30, "warn": 30, "error": 40, "fatal": 50}
PROBE_PATHS = {"live": ("/healthz", "/livez"), "ready": ("/ready", "/readyz")}


class _Host:
    """The real world: process environment, files, stdout, sockets, memory, an HTTP server, the process exit."""

    def __init__(self) -> None:
        self.argv = list(sys.argv)
        self.random = _random.Random()
        self._held: list[bytearray] = []
        self.allocated_mb = 0.0

    def environ(self) -> dict[str, str]:
        return dict(os.environ)

    def read_file(self, path: str) -> str:
        with open(path, encoding="utf-8") as fh:
            return fh.read()

    def now(self) -> float:
        return time.time()

    def write(self, line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def exit(self, code: int) -> None:
        sys.stdout.flush()
        sys.exit(code)

    def allocate(self, mb: float) -> None:
        # Touch every page so the memory really counts against the container's cgroup (calloc'd zeros would not).
        self._held.append(bytearray(b"\x5a") * int(mb * 1024 * 1024))
        self.allocated_mb += mb

    def connect(self, host: str, port: int, timeout_s: float) -> str:
        import socket

        try:
            socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            return f"unresolvable: {exc}"
        try:
            with socket.create_connection((host, port), timeout=timeout_s):
                return "ok"
        except TimeoutError:
            return "timeout: timed out"
        except OSError as exc:
            return f"refused: {exc}"

    def request(self, host: str, port: int, path: str, timeout_s: float) -> tuple[int, str]:
        from http.client import HTTPConnection

        connection = HTTPConnection(host, port, timeout=timeout_s)
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            return response.status, response.read().decode("utf-8", errors="replace")
        except OSError as exc:
            return 0, f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()

    # Shipped to workloads with standard-library imports only (tests/runtime/test_real.py): no typing.Callable here.
    def serve(self, port: int, ready, live, status: dict, listening, routes: dict,  # type: ignore[no-untyped-def]
              warmup_s: float = 0.0) -> None:
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.partition("?")[0]
                kind = endpoint(path, routes)
                if kind == "live":
                    ok, body = _answer(live), "alive"
                elif kind == "ready":
                    ok, body = _answer(ready), "ready"
                elif kind == "status":
                    ok, body = True, json.dumps(status, sort_keys=True)
                elif kind == "route":
                    code, body = answer_route(routes, path)
                    self._send(code, body, "application/json" if code == 200 else "text/plain")
                    return
                else:
                    self.send_error(404)
                    return
                self._send(200 if ok else 503, body if ok else "not " + body, "text/plain")

            def _send(self, code: int, body: str, content_type: str) -> None:
                data = body.encode()
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:  # probes every few seconds would drown the program's own logs
                return

        time.sleep(warmup_s)  # still warming up: nothing listens yet, so probes are refused
        server = ThreadingHTTPServer(("", port), Handler)
        server.daemon_threads = True
        listening()
        try:
            server.serve_forever()
        finally:
            server.server_close()


def _answer(probe: object) -> bool:
    return bool(probe() if callable(probe) else probe)


def endpoint(path: str, routes) -> str:  # type: ignore[no-untyped-def]
    """Which endpoint of a serving program answers ``GET path``: ``live``, ``ready``, ``status`` (``/``), ``route``,
    or ``""`` for none (a 404). The simulated kubelet asks this too, so a probe on a path the program does not serve
    fails on the embedded cluster exactly as on a real one."""
    path = path.partition("?")[0]
    for kind, paths in PROBE_PATHS.items():
        if path in paths:
            return kind
    if path == "/":
        return "status"
    return "route" if path in routes else ""


class CallError(Exception):
    """A request to a dependency failed: unreachable, an error answer, or answered by a service of another name."""


def answer_route(routes: dict, path: str) -> tuple[int, str]:
    """Run the route for ``path``: ``(200, JSON)`` or ``(502, JSON with the error)``, both naming this service (so
    a caller, and the judge, can tell who answered even when a dependency further down failed)."""
    try:
        answer, code = routes[path](), 200
    except CallError as exc:
        answer, code = {"error": str(exc)}, 502
    return code, json.dumps({"service": service(), **answer}, sort_keys=True, default=str)


_host = _Host()
_state: dict[str, dict[str, object]] = {"fields": {}}


def env(name: str, default: str | None = None) -> str | None:
    """An environment variable (from the Deployment's ``env``/``envFrom``), or ``default``."""
    return _host.environ().get(name, default)


def argv() -> list[str]:
    """The program's arguments, ``argv()[0]`` being the program path."""
    return list(_host.argv)


def service() -> str:
    """The service's name: ``SERVICE_NAME``, else the program file's stem."""
    name = env("SERVICE_NAME")
    if name:
        return name
    path = argv()[0] if argv() else "service"
    return os.path.splitext(os.path.basename(path))[0] or "service"


def now() -> float:
    """Seconds since the epoch (the cluster's virtual clock on the embedded cluster)."""
    return _host.now()


def sleep(seconds: float) -> None:
    """Wait ``seconds`` (virtual on the embedded cluster)."""
    _host.sleep(seconds)


def random() -> _random.Random:
    """The program's random source (seeded per episode on the embedded cluster, so runs are reproducible)."""
    return _host.random


def _timestamp(t: float) -> str:
    ms = round((t - int(t)) * 1000)
    base = int(t) + (1 if ms == 1000 else 0)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base)) + f".{ms % 1000:03d}Z"


def _logfmt_value(value: object) -> str:
    text = str(value)
    if text == "" or any(c in text for c in ' ="\t'):
        return json.dumps(text)
    return text


def format_line(fmt: str, t: float, level: str, svc: str, msg: str, fields: dict[str, object]) -> str:
    """One log line in ``fmt`` (``plain``, ``json`` or ``logfmt``; anything else reads as plain)."""
    ts = _timestamp(t)
    if fmt == "json":
        record: dict[str, object] = {"ts": ts, "level": level, "service": svc, "msg": msg}
        record.update({k: v for k, v in fields.items() if k not in record})
        return json.dumps(record, default=str)
    if fmt == "logfmt":
        parts = [f"ts={ts}", f"level={level}", f"service={_logfmt_value(svc)}", f"msg={_logfmt_value(msg)}"]
        parts += [f"{k}={_logfmt_value(v)}" for k, v in fields.items()]
        return " ".join(parts)
    extra = " ".join(f"{k}={_logfmt_value(v)}" for k, v in fields.items())
    label = "WARN" if level in ("warn", "warning") else level.upper()
    return f"{ts} {label:<5} [{svc}] {msg}" + (f" {extra}" if extra else "")


def log(level: str, msg: str, **fields: object) -> None:
    """Write one log line to stdout in ``LOG_FORMAT`` (plain | json | logfmt), if ``LOG_LEVEL`` lets it through."""
    level = level.lower()
    threshold = LEVELS.get((env("LOG_LEVEL") or "info").lower(), 20)
    if LEVELS.get(level, 20) < threshold:
        return
    fmt = (env("LOG_FORMAT") or "plain").lower()
    _host.write(format_line(fmt, now(), level, service(), msg, {**_state["fields"], **fields}))


def debug(msg: str, **fields: object) -> None:
    log("debug", msg, **fields)


def info(msg: str, **fields: object) -> None:
    log("info", msg, **fields)


def warning(msg: str, **fields: object) -> None:
    log("warning", msg, **fields)


def error(msg: str, **fields: object) -> None:
    log("error", msg, **fields)


def exit(code: int = 0) -> None:
    """End the program with ``code``."""
    _host.exit(int(code))


def fail(msg: str, code: int = 1, **fields: object) -> None:
    """Log ``msg`` at level fatal and exit with ``code`` (the usual end of a misconfigured service)."""
    log("fatal", msg, **fields)
    exit(code)


def read_file(path: str) -> str:
    """A file's text, e.g. a key of a mounted ConfigMap or Secret. Raises FileNotFoundError like ``open``."""
    return _host.read_file(path)


class Config(dict):
    """``key = value`` settings read from a file (``#`` starts a comment); values stay strings."""

    def __init__(self, path: str, text: str) -> None:
        super().__init__()
        self.path = path
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.split("#", 1)[0].strip()
            if not line:
                continue
            key, sep, value = line.partition("=")
            if not sep:
                raise ValueError(f"{path}, line {number}: expected 'key = value', got {raw.strip()!r}")
            self[key.strip()] = value.strip()

    def __missing__(self, key: str) -> str:
        raise KeyError(f"{key!r} is not set in {self.path}")


def read_config(path: str) -> Config:
    """Parse a ``key = value`` config file (a mounted ConfigMap key)."""
    return Config(path, read_file(path))


def _split_address(address: str) -> tuple[str, int]:
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"bad address {address!r}: expected host:port")
    return host, int(port)


def dependency(name: str, address: str, *, attempts: int = 3, delay_s: float = 2.0, timeout_s: float = 2.0) -> bool:
    """Connect to a dependency at ``host:port`` before serving.

    A name that does not resolve is a configuration error, so the service exits 1 after ``attempts`` tries (this is
    what a wrong host in the env looks like). A dependency that resolves but refuses or times out is merely down,
    so the service serves degraded rather than cascading its neighbour's outage (returns False) — unless
    ``STRICT_DEPENDENCIES`` is true, when it exits 1 and lets the kubelet restart it until the dependency is up.
    """
    try:
        host, port = _split_address(address)
    except ValueError as exc:
        fail(f"invalid address for dependency {name}: {exc}", dependency=name)
    result = ""
    for attempt in range(1, attempts + 1):
        result = _host.connect(host, port, timeout_s)
        if result == "ok":
            info(f"connected to {name}", dependency=name, address=address)
            return True
        warning(f"cannot reach {name} at {address}: {result.partition(': ')[2]}", dependency=name,
                attempt=f"{attempt}/{attempts}")
        if attempt < attempts:
            sleep(delay_s)
    if result.startswith("unresolvable"):
        fail(f"dependency {name} at {address} does not resolve; giving up after {attempts} attempts",
             dependency=name)
    if (env("STRICT_DEPENDENCIES") or "").lower() in ("1", "true", "yes"):
        fail(f"{name} unavailable and STRICT_DEPENDENCIES is set; exiting", dependency=name)
    warning(f"{name} unavailable, serving degraded", dependency=name)
    return False


def call(name: str, address: str, path: str, *, timeout_s: float = 2.0) -> dict:
    """GET ``path`` from dependency ``name`` at ``host:port`` and return its JSON answer.

    The answer must come from a service that calls itself ``name``: an address that reaches some other service is
    as broken as one that reaches nothing, even when that other service happens to answer.

    Raises:
        CallError: the address is malformed or unreachable, the answer is an error, or another service answered.
    """
    try:
        host, port = _split_address(address)
    except ValueError as exc:
        raise CallError(f"{name}: {exc}") from None
    code, body = _host.request(host, port, path, timeout_s)
    if code != 200:
        raise CallError(f"{name} at {address}{path} answered {code or 'nothing'}: {body.strip()[:300]}")
    try:
        answer = json.loads(body)
    except ValueError:
        raise CallError(f"{name} at {address}{path} answered something that is not JSON") from None
    if not isinstance(answer, dict) or answer.get("service") != name:
        who = answer.get("service") if isinstance(answer, dict) else None
        raise CallError(f"{address}{path} was answered by {who!r}, not by {name}")
    return answer


def call_all(calls: dict, *, timeout_s: float = 2.0) -> dict:
    """``call`` every dependency in ``{name: (address, path)}`` and return ``{name: answer}``; every call is made even
    when one fails (a request touches all of them, as a page that renders what it can).

    Raises:
        CallError: naming every call that failed.
    """
    answers, failures = {}, []
    for name, (address, path) in calls.items():
        try:
            answers[name] = call(name, address, path, timeout_s=timeout_s)
        except CallError as exc:
            failures.append(str(exc))
    if failures:
        raise CallError("; ".join(failures))
    return answers


def allocate(mb: float, what: str = "buffers") -> None:
    """Hold ``mb`` MiB of memory for the life of the process (a cache, a buffer pool …)."""
    debug(f"allocating {mb:g} MiB for {what}")
    _host.allocate(float(mb))


def serve(port: int, *, ready: object = True, live: object = True, routes: dict | None = None,
          **status: object) -> None:
    """Serve the probe endpoints on ``port`` forever: ``/healthz`` (liveness), ``/ready`` (readiness), ``/``.

    ``ready``/``live`` are booleans or zero-argument callables asked on each probe. ``routes`` maps a path to a
    zero-argument callable returning a JSON object (the service's requests). Never returns.

    ``STARTUP_DELAY_S`` (seconds, default 0) is a warm-up before the port opens (a cache to fill, a JIT to warm):
    until then every connection is refused, which is what a liveness probe without enough initial delay, or a
    startupProbe, meets on a slow service.
    """
    text = env("STARTUP_DELAY_S") or "0"
    try:
        warmup_s = float(text)
    except ValueError:
        warmup_s = -1.0
    if not 0 <= warmup_s <= 86400:
        fail(f"invalid STARTUP_DELAY_S {text!r}: expected seconds between 0 and 86400 (e.g. 40)")
    if warmup_s:
        info("warming up before serving", port=port, startup_delay_s=f"{warmup_s:g}")
    _host.serve(int(port), ready, live, {"service": service(), **status}, lambda: info("listening", port=port),
                dict(routes or {}), warmup_s)
