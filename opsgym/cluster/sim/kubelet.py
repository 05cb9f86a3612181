"""The simulated kubelet: starts containers by asking the workload's program what it does, then plays out exit
codes, OOM kills, probes, restarts with the kubelet's back-off, and the Events a real node would emit.

A container's behaviour comes only from its spec and program (``opsgym.runtime.sim.run_container``; containers
that run no program: :mod:`opsgym.cluster.sim.generic`); its image decides whether it can be pulled and started
and, through the catalog, its default command (:mod:`opsgym.cluster.sim.images`). Back-off follows the
kubelet: the first restart is immediate, later ones wait 10 s doubling to 5 min, and the back-off resets once a
container has not crashed for 10 minutes. Programs that exit do so one
virtual second after they start. Probe answers are re-asked whenever Services or Endpoints change, so a repaired
dependency makes a waiting pod ready without a restart — but only re-asked of programs whose own lookups would now be
answered differently (a program is a deterministic function of its inputs, its seed and those answers).
"""

from __future__ import annotations

import copy
import hashlib
import json
import types
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from opsgym.cluster.sim.eviction import pressure_eviction
from opsgym.cluster.sim.generic import runtime
from opsgym.cluster.sim.images import PullState, container_command, ensure_image, startable
from opsgym.cluster.sim.netpol import guard
from opsgym.cluster.sim.podenv import (
    ConfigError,
    lookup,
    missing_volumes,
    mounted_files,
    resolve_env,
    resolver,
)
from opsgym.cluster.sim.podstatus import pod_status
from opsgym.cluster.sim.probes import COLD, first_pass, opens_at, probe_failure, probe_passes
from opsgym.cluster.sim.store import revised
from opsgym.cluster.sim.system import pod_address, test_runner
from opsgym.k8s.quantity import memory_mib
from opsgym.runtime.sim import listens

if TYPE_CHECKING:
    from opsgym.cluster.sim.engine import Engine

__all__ = ["ContainerRecord", "Instance", "Kubelet", "PodRecord"]

EXIT_AFTER_S = 1.0
INITIAL_BACKOFF_S, MAX_BACKOFF_S, BACKOFF_RESET_S = 10.0, 300.0, 600.0
SPEC_KEY_CACHE = 4096
Obj = dict[str, Any]


@dataclass
class Instance:
    """One run of a container (what ``kubectl logs`` and ``lastState`` describe)."""

    started: float
    inputs: dict[str, Any]
    run: Any
    logs: list[tuple[float, str]]
    container_id: str
    finished: float | None = None
    exit_code: int | None = None
    reason: str = ""
    message: str = ""
    answers_since: float = 0.0
    world: Any = None
    ready: bool = False
    consulted: dict[tuple[Any, ...], bool | str] = field(default_factory=dict)
    """The name lookups and connects the program made, with the answers it got (replaced whole, never edited)."""
    startup_passed: float | None = None
    """When its startupProbe first succeeded (``status.started``; liveness and readiness wait for it)."""
    held: tuple[str, ...] = ()
    """Log lines a warming-up program writes when its port opens (``ContainerRun.starts_s``), shown from then on."""


@dataclass
class ContainerRecord:
    spec_key: str = ""
    restarts: int = 0
    current: Instance | None = None
    previous: Instance | None = None
    waiting: tuple[str, str] | None = None
    backoff: float = 0.0
    backoff_updated: float | None = None
    wake: float | None = None
    pull: PullState = field(default_factory=PullState)
    probe_counts: dict[str, int] = field(default_factory=dict)
    """How often each probe failure (by message) has been seen over every run of the container (replaced whole)."""
    counted_from: tuple[str, dict[str, int]] = ("", {})
    """The run whose failures are being counted (its container ID) and the counts its earlier runs left."""


@dataclass
class PodRecord:
    ip: str
    host_ip: str
    started: float
    containers: dict[str, ContainerRecord] = field(default_factory=dict)
    mount_error: str = ""
    evicted: tuple[float, str] | None = None
    """When the eviction manager evicted the pod, and why (the pod's status message)."""


def _copy_state(state: dict[str, PodRecord]) -> dict[str, PodRecord]:
    """A copy of the kubelet's records that the running kubelet cannot reach into (for snapshots).

    Records and instances are copied; what they hold is not, because it is never edited in place: an instance's
    ``inputs`` and ``logs`` are fixed at its start, its ``run`` and ``world`` are replaced whole. Several times
    cheaper than a deep copy, which made up most of a cached reset.
    """
    def instance(inst: Instance | None) -> Instance | None:
        return copy.copy(inst) if inst is not None else None

    return {uid: replace(record, containers={
        name: replace(crec, current=instance(crec.current), previous=instance(crec.previous))
        for name, crec in record.containers.items()}) for uid, record in state.items()}


def _lasts(run: Any) -> float:
    """How long a process that exits runs: one virtual second, or longer when it says so (``sleep 30``)."""
    return max(EXIT_AFTER_S, float(getattr(run, "runs_s", 0.0) or 0.0))


class Kubelet:
    """Every node's kubelet (they share one loop; pods are told apart by ``spec.nodeName``)."""

    def __init__(self, engine: Engine, runner: Callable[..., Any] | None = None):
        self.engine = engine
        self.store = engine.store
        self.runner = runner
        self.state: dict[str, PodRecord] = {}
        self._spec_keys: dict[int, tuple[Obj, str]] = {}
        self.rechecks: list[float] = []
        self.pressure_wake: float | None = None
        """Instants after which the last :meth:`sync` would act differently without being woken (a failing probe's
        event count grows every period); not timers, so :meth:`Engine.advance` does not stop there."""

    def save(self) -> dict[str, PodRecord]:
        return _copy_state(self.state)

    def load(self, state: dict[str, PodRecord]) -> None:
        self.state = _copy_state(state)

    def next_timer(self) -> float | None:
        now = self.engine.clock.now
        times = [c.wake for p in self.state.values() for c in p.containers.values() if c.wake and c.wake > now]
        times += [self.pressure_wake] if self.pressure_wake and self.pressure_wake > now else []
        return min(times) if times else None

    def quiet_until(self) -> float | None:
        """The first instant at which a sync of the unchanged store could act (timers and rechecks alike)."""
        now = self.engine.clock.now
        times = [t for t in (self.next_timer(), *self.rechecks) if t is not None and t > now]
        return min(times) if times else None

    # ------------------------------------------------------------------------------------------------ sync loop
    def sync(self) -> None:
        now = self.engine.clock.now
        self.rechecks = []
        nodes = {n["metadata"]["name"]: (i, n) for i, n in enumerate(self.store.items("nodes"), start=1)}
        world = tuple((o["metadata"]["namespace"], o["metadata"]["name"], o["metadata"]["resourceVersion"])
                      for plural in ("services", "endpoints", "networkpolicies") for o in self.store.items(plural))
        seen = set()
        for pod in self.store.items("pods"):
            node = (pod.get("spec") or {}).get("nodeName")
            if node not in nodes:
                continue
            uid = pod["metadata"]["uid"]
            if pod["metadata"].get("deletionTimestamp"):
                self._stop(pod)
                continue
            seen.add(uid)
            if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") and uid not in self.state:
                continue
            record = self.state.get(uid)
            if record is None:
                index, node_obj = nodes[node]
                address = next((a["address"] for a in node_obj["status"].get("addresses") or []
                                if a["type"] == "InternalIP"), "")
                record = self.state[uid] = PodRecord(pod_address(self.engine, pod, index, address), address, now)
            self._step(pod, record, now, world)
            status = pod_status(pod, record, now, self.engine.stamp)
            if status != pod.get("status"):
                self.store.put("pods", revised(pod, status=status))
        for uid in [u for u in self.state if u not in seen]:
            del self.state[uid]
        self._evict_under_pressure(nodes, now)

    def _stop(self, pod: Obj) -> None:
        record = self.state.pop(pod["metadata"]["uid"], None)
        for name, crec in (record.containers.items() if record else ()):
            if crec.current and crec.current.finished is None:
                self._event(pod, "Normal", "Killing", f"Stopping container {name}", name)
        if not pod["metadata"].get("finalizers"):
            self.store.remove("pods", pod["metadata"]["namespace"], pod["metadata"]["name"])

    def _event(self, pod: Obj, kind: str, reason: str, message: str, container: str = "",
               count: int | None = None) -> None:
        spec = pod.get("spec") or {}
        group = "initContainers" if any(c.get("name") == container for c in spec.get("initContainers") or []) \
            else "containers"
        self.engine.events.emit(pod, kind, reason, message, "kubelet", spec.get("nodeName", ""),
                                f"spec.{group}{{{container}}}" if container else "", count=count)

    def _evict_under_pressure(self, nodes: dict[str, tuple[int, Obj]], now: float) -> None:
        """The eviction manager of every node with MemoryPressure or DiskPressure (see :mod:`.eviction`)."""
        self.pressure_wake = None
        pressed = {name for name, (_, node) in nodes.items() if any(
            c.get("type") in ("MemoryPressure", "DiskPressure") and c.get("status") == "True"
            for c in (node.get("status") or {}).get("conditions") or [])}
        if not pressed:
            return
        running: dict[str, list[Obj]] = {name: [] for name in pressed}
        evicted: dict[str, list[float]] = {name: [] for name in pressed}
        for pod in self.store.items("pods"):
            node, record = (pod.get("spec") or {}).get("nodeName"), self.state.get(pod["metadata"]["uid"])
            if node not in pressed or record is None or pod["metadata"].get("deletionTimestamp"):
                continue
            if record.evicted:
                evicted[node].append(record.evicted[0])
            elif (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                running[node].append(pod)

        def usage(pod: Obj, container: Obj) -> float:
            crec = self.state[pod["metadata"]["uid"]].containers.get(container["name"])
            inst = crec.current if crec else None
            live = inst is not None and inst.finished is None
            return float(getattr(inst.run, "memory_mb", 0) or 0) * 2**20 if live and inst else 0.0

        for name in sorted(pressed):
            wake, verdict = pressure_eviction(nodes[name][1], running[name], usage, evicted[name], now)
            if wake is not None:
                self.pressure_wake = min(wake, self.pressure_wake or wake)
            if verdict is None:
                continue
            pod, resource, message = verdict
            record = self.state[pod["metadata"]["uid"]]
            if not evicted[name]:
                self.engine.events.emit(nodes[name][1], "Warning", "EvictionThresholdMet",
                                        f"Attempting to reclaim {resource}", "kubelet", name)
            record.evicted = (now, message)
            for crec in record.containers.values():
                if crec.current is not None and crec.current.finished is None:
                    self._finish(pod, crec.current, now, 137, "Error")
                crec.wake, crec.waiting = None, None
            self._event(pod, "Warning", "Evicted", message)
            status = pod_status(pod, record, now, self.engine.stamp)
            self.store.put("pods", revised(pod, status=status))

    def _step(self, pod: Obj, record: PodRecord, now: float, world: Any) -> None:
        if record.evicted:
            return
        problems = missing_volumes(self.store, pod)
        if problems and not any(c.current for c in record.containers.values()):
            if record.mount_error != problems[0]:
                record.mount_error = problems[0]
                self.engine.events.emit(pod, "Warning", "FailedMount", problems[0], "kubelet",
                                        pod["spec"].get("nodeName", ""))
            return
        record.mount_error = ""
        spec = pod["spec"]
        for container in spec.get("initContainers") or []:
            if not self._drive(pod, record, container, now, world, init=True):
                return
        for container in spec.get("containers") or []:
            self._drive(pod, record, container, now, world, init=False)

    # ------------------------------------------------------------------------------------------------ containers
    def _drive(self, pod: Obj, record: PodRecord, container: Obj, now: float, world: Any, *, init: bool) -> bool:
        """Move one container along; True once an init container has completed successfully."""
        name = container["name"]
        crec = record.containers.setdefault(name, ContainerRecord())
        crec.wake = None
        key = self._spec_key(container)
        inst = crec.current
        if inst is not None and inst.finished is None:
            if crec.spec_key and key != crec.spec_key:
                self._event(pod, "Normal", "Killing", f"Container {name} definition changed, will be restarted",
                            name)
                self._finish(pod, inst, now, 137, "Error")
                crec.spec_key = key
                self._start(pod, record, container, crec, now, world)
                return False
            if inst.run.exit_code is not None:
                if now < inst.started + _lasts(inst.run):
                    if inst.run.ready:  # a process running until it exits (sleep 30) is probed meanwhile
                        self._probe(pod, record, container, crec, inst, now, world)
                    crec.wake = min(w for w in (crec.wake, inst.started + _lasts(inst.run)) if w)
                    return False
                code = int(inst.run.exit_code)
                reason = inst.run.reason or ("Completed" if code == 0 else "Error")
                self._finish(pod, inst, inst.started + _lasts(inst.run), code, reason)
            else:
                self._probe(pod, record, container, crec, inst, now, world)
                if inst.finished is None:
                    return False
        crec.spec_key = key
        if inst is None:
            self._start(pod, record, container, crec, now, world)
            return False
        finished = inst.finished
        if finished is None:  # still running (the loop above returned for a live one; kept for the type checker)
            return False
        policy = pod["spec"].get("restartPolicy", "Always")
        if inst.exit_code == 0 and (init or policy != "Always"):
            return True
        if policy == "Never" or (inst.exit_code == 0 and policy == "OnFailure"):
            return False
        fresh_start = crec.backoff_updated is None or finished - crec.backoff_updated > BACKOFF_RESET_S
        if not fresh_start and now - finished < crec.backoff:
            crec.wake = finished + crec.backoff
            message = (f"back-off {int(crec.backoff)}s restarting failed container={name} "
                       f"pod={pod['metadata']['name']}_{pod['metadata']['namespace']}({pod['metadata']['uid']})")
            if not crec.waiting or crec.waiting[0] != "CrashLoopBackOff" or crec.waiting[1] != message:
                crec.waiting = ("CrashLoopBackOff", message)
                self._event(pod, "Warning", "BackOff", f"Back-off restarting failed container {name} in pod "
                            f"{pod['metadata']['name']}_{pod['metadata']['namespace']}({pod['metadata']['uid']})",
                            name)
            return False
        if fresh_start:
            crec.backoff = INITIAL_BACKOFF_S
        else:
            crec.backoff = min(crec.backoff * 2, MAX_BACKOFF_S)
        crec.backoff_updated = finished
        self._start(pod, record, container, crec, now, world)
        return False

    def _spec_key(self, container: Obj) -> str:
        """The container spec as canonical JSON (a restart is due when it changes), cached per stored spec.

        Stored objects never change and a pod's status updates share its spec, so the same dict comes back pass
        after pass; the entry keeps it alive, so its ``id`` cannot be reused while cached.
        """
        hit = self._spec_keys.get(id(container))
        if hit is not None and hit[0] is container:
            return hit[1]
        if len(self._spec_keys) >= SPEC_KEY_CACHE:
            self._spec_keys.clear()
        key = json.dumps(container, sort_keys=True)
        self._spec_keys[id(container)] = (container, key)
        return key

    def _start(self, pod: Obj, record: PodRecord, container: Obj, crec: ContainerRecord, now: float,
               world: Any) -> None:
        name = container["name"]
        pulled = ensure_image(self.store, pod, container, crec.pull, now)
        if pulled.waiting is not None:
            if (pulled.waiting, pulled.state) != (crec.waiting, crec.pull):
                for kind, reason, message in pulled.events:
                    self._event(pod, kind, reason, message, name)
            crec.pull, crec.waiting, crec.wake = pulled.state, pulled.waiting, pulled.wake
            return
        try:
            env = resolve_env(self.store, pod, container, record.ip)
        except ConfigError as exc:
            if crec.waiting != ("CreateContainerConfigError", str(exc)):
                crec.waiting = ("CreateContainerConfigError", str(exc))
                self._event(pod, "Warning", "Failed", f"Error: {exc}", name)
            return
        crec.pull = pulled.state
        for kind, reason, message in pulled.events:
            self._event(pod, kind, reason, message, name)
        self._event(pod, "Normal", "Created", f"Created container: {name}", name)
        command = container_command(container, env)
        refused = startable(container.get("image", ""), command)
        if refused:
            self._event(pod, "Warning", "Failed", f"Error: {refused}", name)
            self._refused(crec, pod, name, now, refused)
            return
        self._event(pod, "Normal", "Started", f"Started container {name}", name)
        limit = ((container.get("resources") or {}).get("limits") or {}).get("memory")
        inputs = {"command": command, "env": env, "container": name,
                  "files": mounted_files(self.store, pod, container),
                  "memory_limit_mb": memory_mib(limit) if limit is not None else None}
        seed = zlib.crc32(f"{self.engine.seed}/{pod['metadata']['namespace']}/{pod['metadata']['name']}/{name}/"
                          f"{crec.restarts + (crec.current is not None)}".encode())
        inputs["seed"] = seed
        run, consulted = self._run(pod, inputs, now)
        container_id = "containerd://" + hashlib.sha256(f"{pod['metadata']['uid']}/{name}/{now}/{seed}".encode()) \
            .hexdigest()
        shown = len(run.logs) - (1 if getattr(run, "starts_s", 0.0) else 0)  # "listening" waits for the port
        inst = Instance(now, inputs, run, [(now, line) for line in run.logs[:shown]], container_id, answers_since=now,
                        world=world, consulted=consulted, held=tuple(run.logs[shown:]))
        if crec.current is not None:
            crec.previous = crec.current
            crec.restarts += 1
        crec.current, crec.waiting = inst, None
        if run.exit_code is not None:
            crec.wake = now + _lasts(run)
        else:
            self._probe(pod, record, container, crec, inst, now, world)

    def _refused(self, crec: ContainerRecord, pod: Obj, name: str, now: float, message: str) -> None:
        """A container the runtime created but could not start: terminated at once, StartError, exit code 128."""
        container_id = "containerd://" + hashlib.sha256(f"{pod['metadata']['uid']}/{name}/{now}/start".encode()) \
            .hexdigest()
        run = types.SimpleNamespace(logs=(), exit_code=128, reason="StartError", memory_mb=0.0, ready=False,
                                    live=False, port=None)
        inst = Instance(now, {}, run, [], container_id, finished=now, exit_code=128, reason="StartError",
                        message=message)
        if crec.current is not None:
            crec.previous = crec.current
            crec.restarts += 1
        crec.current, crec.waiting = inst, None

    def _run(self, pod: Obj, inputs: dict[str, Any], now: float) -> tuple[Any, dict[tuple[Any, ...], bool | str]]:
        """Run the container's program; also return every lookup/connect it made with the answer it got."""
        consulted: dict[tuple[Any, ...], bool | str] = {}
        answer = self._answerer(pod)

        def resolve(host: str, port: int) -> bool | str:
            consulted["resolve", host, port] = found = answer(("resolve", host, port))
            return found

        def look(host: str) -> bool | str:
            consulted["lookup", host] = found = answer(("lookup", host))
            return found

        try:
            runner = test_runner(pod, self.runner) or runtime(self.engine, pod, inputs["container"])
            run = runner(command=list(inputs["command"]), env=dict(inputs["env"]), files=dict(inputs["files"]),
                         memory_limit_mb=inputs["memory_limit_mb"], resolve=resolve, lookup=look, now=now,
                         seed=inputs["seed"])
        except Exception as exc:  # a broken program must not take the node down: the container fails instead
            run = types.SimpleNamespace(logs=(f"simulator: the program could not run: {exc!r}",), exit_code=1,
                                        reason="Error", memory_mb=0.0, ready=False, live=False, port=None)
        return run, consulted

    def _answerer(self, pod: Obj) -> Callable[[tuple[Any, ...]], bool | str]:
        """Answers a recorded question (``("resolve", host, port)`` or ``("lookup", host)``) as the store stands."""
        namespace = pod["metadata"]["namespace"]
        resolve, look = guard(self.store, pod, resolver(self.store, namespace, self.listening),
                              lookup(self.store, namespace))
        return lambda question: resolve(*question[1:]) if question[0] == "resolve" else look(question[1])

    def listening(self, address: Obj, port: int) -> bool:
        """Whether the pod behind an endpoint ``address`` listens on ``port``: no when its running containers all
        listen elsewhere (a Service's numeric targetPort off the program's port) or are still warming up; a pod
        without a running container counts as listening, its endpoint is on its way out."""
        ref = address.get("targetRef") or {}
        pod = self.store.get("pods", ref.get("namespace", ""), ref.get("name", ""))
        record = self.state.get(pod["metadata"]["uid"]) if pod else None
        running = [c.current for c in (record.containers.values() if record else ())
                   if c.current is not None and c.current.finished is None]
        now = self.engine.clock.now
        return not running or any(listens(i.run, port) and now >= opens_at(i.run, i.started) for i in running)

    def _finish(self, pod: Obj, inst: Instance, when: float, code: int, reason: str) -> None:
        inst.finished, inst.exit_code, inst.reason, inst.ready = when, code, reason, False
        if reason == "OOMKilled":
            node = self.store.get("nodes", "", pod["spec"].get("nodeName", ""))
            if node is not None:
                rss = int(float(inst.run.memory_mb or 0) * 1024)
                pid = 1000 + zlib.crc32(inst.container_id.encode()) % 30000
                self.engine.events.emit(node, "Warning", "OOMKilling", f"Memory cgroup out of memory: Killed process "
                                        f"{pid} (python) total-vm:{rss + 24000}kB, anon-rss:{rss}kB, file-rss:0kB, "
                                        "shmem-rss:0kB, UID:0 pgtables:512kB oom_score_adj:984",
                                        "kernel-monitor", node["metadata"]["name"])

    def _probe(self, pod: Obj, record: PodRecord, container: Obj, crec: ContainerRecord, inst: Instance,
               now: float, world: Any) -> None:
        """Startup, readiness and liveness from the program's answers, with initialDelay/period/failureThreshold
        timing; a program that warms up fails every probe (connection refused) until its port opens."""
        ready_probe, live_probe = container.get("readinessProbe"), container.get("livenessProbe")
        startup_probe = container.get("startupProbe")
        if world != inst.world and (ready_probe or live_probe or startup_probe):
            inst.world = world
            answer = self._answerer(pod)
            if any(answer(question) != was for question, was in inst.consulted.items()):
                fresh, inst.consulted = self._run(pod, inst.inputs, now)
                if fresh.exit_code is None and (fresh.ready, fresh.live, fresh.port) != \
                        (inst.run.ready, inst.run.live, inst.run.port):
                    inst.run = types.SimpleNamespace(**{**vars_of(inst.run), "ready": fresh.ready,
                                                        "live": fresh.live, "port": fresh.port})
                    inst.answers_since = now
        opens = opens_at(inst.run, inst.started)
        wakes = [opens] if now < opens else []
        if inst.held and now >= opens:
            inst.logs, inst.held = [*inst.logs, *((opens, line) for line in inst.held)], ()
        seen = COLD if now < opens else inst.run
        gate = inst.started
        if startup_probe and inst.startup_passed is None:
            inst.ready = False
            self._startup(pod, record, container, inst, now, opens, wakes)
            if inst.startup_passed is None or inst.finished is not None:
                crec.wake = min((w for w in wakes if w > now), default=None)
                return
        if startup_probe and inst.startup_passed is not None:
            gate = inst.startup_passed
        if not ready_probe:
            inst.ready = True
        else:
            first = max(inst.started + ready_probe.get("initialDelaySeconds", 0), inst.answers_since, gate)
            period = ready_probe.get("periodSeconds", 10)
            if probe_passes(ready_probe, container, inst.run, "ready"):
                ready_at = first_pass(first, period, opens)
                inst.ready = now >= ready_at
                wakes.append(ready_at)
                if first <= now < ready_at:
                    self._failed(pod, record, container, "Readiness", ready_probe, seen, now, first, period)
            else:
                fail_at = first + period * (ready_probe.get("failureThreshold", 3) - 1)
                inst.ready = inst.ready and now < fail_at
                wakes.append(fail_at)
                if now >= first:
                    self._failed(pod, record, container, "Readiness", ready_probe, seen, now, first, period)
                else:
                    self.rechecks.append(first)
        if live_probe:
            first = max(inst.started + live_probe.get("initialDelaySeconds", 0), inst.answers_since, gate)
            threshold = live_probe.get("failureThreshold", 3)
            kill_at = first + live_probe.get("periodSeconds", 10) * (threshold - 1)
            if kill_at < opens or not probe_passes(live_probe, container, inst.run, "live"):
                wakes.append(kill_at)
                if now >= kill_at:
                    self._kill(pod, record, container, inst, "Liveness", live_probe,
                               COLD if kill_at < opens else inst.run, now, threshold)
            elif first <= now < opens:  # refused while warming up, alive once the port opens
                self._failed(pod, record, container, "Liveness", live_probe, COLD, now, first,
                             live_probe.get("periodSeconds", 10))
        crec.wake = min((w for w in wakes if w > now), default=None)

    def _startup(self, pod: Obj, record: PodRecord, container: Obj, inst: Instance, now: float, opens: float,
                 wakes: list[float]) -> None:
        """The startupProbe until it first succeeds (then it never runs again for this container); its
        failureThreshold-th consecutive failure kills the container."""
        probe = container["startupProbe"]
        first = inst.started + probe.get("initialDelaySeconds", 0)
        period, threshold = probe.get("periodSeconds", 10), probe.get("failureThreshold", 3)
        kill_at = first + period * (threshold - 1)
        passes = probe_passes(probe, container, inst.run, "live")
        passed_at = first_pass(first, period, max(opens, inst.answers_since)) if passes else None
        if passed_at is not None and passed_at <= kill_at:
            wakes.append(passed_at)
            if now >= passed_at:
                inst.startup_passed = passed_at
            elif now >= first:
                self._failed(pod, record, container, "Startup", probe, COLD, now, first, period)
            return
        wakes.append(kill_at)
        if now >= kill_at:
            self._kill(pod, record, container, inst, "Startup", probe, COLD if kill_at < opens else inst.run, now,
                       threshold)
        elif now >= first:
            self._failed(pod, record, container, "Startup", probe, COLD if now < opens else inst.run, now, first,
                         period)

    def _failed(self, pod: Obj, record: PodRecord, container: Obj, kind: str, probe: Obj, seen: Any, now: float,
                first: float, period: float) -> None:
        """The Unhealthy event of a probe failing since ``first`` (its count grows every period: a recheck)."""
        runs = int((now - first) // period) + 1
        self._unhealthy(pod, record, container, f"{kind} probe failed: " + probe_failure(
            probe, container, seen, record.ip), runs)
        self.rechecks.append(first + period * runs)

    def _unhealthy(self, pod: Obj, record: PodRecord, container: Obj, message: str, runs: int) -> None:
        """An Unhealthy event for the ``runs``-th failure of this run, counted on from the container's earlier runs
        (the kubelet records every failed probe, so a crash-looping container's count keeps growing)."""
        crec = record.containers[container["name"]]
        current = crec.current.container_id if crec.current else ""
        if crec.counted_from[0] != current:
            crec.counted_from = (current, crec.probe_counts)
        count = crec.counted_from[1].get(message, 0) + runs
        crec.probe_counts = {**crec.probe_counts, message: count}
        self._event(pod, "Warning", "Unhealthy", message, container["name"], count=count)

    def _kill(self, pod: Obj, record: PodRecord, container: Obj, inst: Instance, kind: str, probe: Obj, seen: Any,
              now: float, threshold: int) -> None:
        """A liveness or startup probe's last failure: the kubelet kills the container (and restarts it)."""
        name = container["name"]
        self._unhealthy(pod, record, container, f"{kind} probe failed: " + probe_failure(
            probe, container, seen, record.ip), threshold)
        self._event(pod, "Normal", "Killing", f"Container {name} failed {kind.lower()} probe, will be restarted",
                    name)
        self._finish(pod, inst, now, 137, "Error")


def vars_of(run: Any) -> dict[str, Any]:
    """A ContainerRun's fields as a dict (works for dataclasses and namespaces alike)."""
    keys = ("logs", "exit_code", "reason", "memory_mb", "ready", "live", "port", "routes", "starts_s")
    return {k: getattr(run, k, None) for k in keys}
