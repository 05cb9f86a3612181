"""One simulated cluster: store, virtual clock, seeded identities, controllers and kubelet, stepped together.

Everything that makes two runs differ is in here and in its snapshot: the clock, the random generator behind uids
and pod-name suffixes, address counters, the event index and the kubelet's container records. Same seed and same
requests therefore give the same objects, byte for byte.
"""

from __future__ import annotations

import copy
import logging
import math
import random
import uuid
from collections.abc import Callable
from typing import Any

from opsgym.cluster.sim.admission import Policy
from opsgym.cluster.sim.api import Api
from opsgym.cluster.sim.autoscaler import Autoscaler
from opsgym.cluster.sim.clock import DEFAULT_EPOCH, Clock, parse_time, rfc3339
from opsgym.cluster.sim.controllers import CoreControllers
from opsgym.cluster.sim.disruption import DisruptionController
from opsgym.cluster.sim.events import EventRecorder
from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.kubelet import Kubelet
from opsgym.cluster.sim.metrics import Metrics
from opsgym.cluster.sim.storage import StorageController
from opsgym.cluster.sim.storage_kinds import bootstrap_storage
from opsgym.cluster.sim.store import Snapshot, Store
from opsgym.cluster.sim.system import bootstrap_system
from opsgym.cluster.sim.workload_kinds import KindControllers
from opsgym.cluster.sim.workloads import WorkloadControllers

__all__ = ["Engine"]

log = logging.getLogger(__name__)

SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""The alphabet of generated name suffixes (apimachinery's ``utilrand``), so pod names look like real ones."""
MAX_PASSES = 200
HORIZON_SLACK_S = 1e-6
"""A quiet cluster is reconciled again this long before its horizon, in case float rounding puts a threshold (an
expression like ``now - finished < backoff``) a hair before the instant computed for it."""
NODE_PRESSURE = (("MemoryPressure", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
                 ("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
                 ("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"))


class Engine:
    """A cluster's whole state and behaviour. Callers hold :attr:`lock` around every call."""

    def __init__(self, *, seed: int = 0, epoch: float = DEFAULT_EPOCH, nodes: int = 2,
                 runner: Callable[..., Any] | None = None):
        self.seed = seed
        self.store = Store()
        self.lock = self.store.lock
        self.clock = Clock(epoch)
        self.rng = random.Random(seed)
        self.counters: dict[str, Any] = {"service": 10, "node_port": 30000, "event": 0, "pod_ip": {}}
        self.events = EventRecorder(self)
        self.api = Api(self)
        self.policy = Policy(self)
        self.controllers = CoreControllers(self)
        self.workloads = WorkloadControllers(self)
        self.kinds = KindControllers(self)
        self.advance_target: float | None = None
        """Where the :meth:`advance` under way ends (None between advances): a CronJob plays only its last runs."""
        self.kubelet = Kubelet(self, runner)
        self.storage, self.disruption = StorageController(self), DisruptionController(self)
        self.metrics = Metrics(self)
        self.autoscaler = Autoscaler(self)
        self.skip_idle = True
        """Skip work that cannot act (reconciles of a settled cluster, see :meth:`reconcile`; Endpoints whose inputs
        did not change); False runs everything, the reference behaviour that tests and benchmarks compare against."""
        self._quiet: tuple[tuple[int, int], float] | None = None
        """(store state, instant): a reconcile of that store state before that instant has nothing to do."""
        with self.lock:
            self._bootstrap(nodes)
            self.reconcile()

    # ------------------------------------------------------------------------------------------------ identities
    def uid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def random_suffix(self, length: int = 5) -> str:
        return "".join(self.rng.choice(SUFFIX_ALPHABET) for _ in range(length))

    def event_suffix(self) -> str:
        self.counters["event"] += 1
        return format(int(self.clock.now * 1e9) + self.counters["event"], "x")

    def stamp(self, when: float | None = None) -> str:
        return rfc3339(self.clock.now if when is None else when)

    @staticmethod
    def parse(stamp: str | None) -> float | None:
        return parse_time(stamp)

    def allocate_service(self, service: dict[str, Any]) -> None:
        """Give a new Service its cluster IP and node ports (deterministic counters)."""
        spec = service.setdefault("spec", {})
        if spec.get("type") == "ExternalName":
            return
        if not spec.get("clusterIP"):
            n = self.counters["service"]
            self.counters["service"] += 1
            spec["clusterIP"] = f"10.96.{n // 250}.{n % 250 + 1}"
        spec["clusterIPs"] = [spec["clusterIP"]]
        if spec.get("type") in ("NodePort", "LoadBalancer"):
            for port in spec.get("ports") or []:
                if not port.get("nodePort"):
                    port["nodePort"] = self.counters["node_port"]
                    self.counters["node_port"] += 1

    def pod_ip(self, node_index: int) -> str:
        used = self.counters["pod_ip"]
        used[str(node_index)] = used.get(str(node_index), 1) + 1
        return f"10.244.{node_index}.{used[str(node_index)]}"

    # ------------------------------------------------------------------------------------------------ bootstrap
    def _bootstrap(self, nodes: int) -> None:
        for name in ("default", "kube-node-lease", "kube-public", "kube-system"):
            self.api.create(lookup("namespaces"), "", {"metadata": {"name": name}})
        for i in range(1, nodes + 1):
            name = f"node-{i}"
            self.api.create(lookup("nodes"), "", {
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                                      "kubernetes.io/arch": "amd64"}},
                "spec": {"podCIDR": f"10.244.{i}.0/24", "podCIDRs": [f"10.244.{i}.0/24"]},
                "status": {
                    "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                    "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110", "ephemeral-storage": "100Gi"},
                    "conditions": [
                        *({"type": t, "status": "False", "reason": reason, "message": message,
                           "lastHeartbeatTime": self.stamp(), "lastTransitionTime": self.stamp()}
                          for t, reason, message in NODE_PRESSURE),
                        {"type": "Ready", "status": "True", "reason": "KubeletReady",
                         "message": "kubelet is posting ready status", "lastHeartbeatTime": self.stamp(),
                         "lastTransitionTime": self.stamp()}],
                    "addresses": [{"type": "InternalIP", "address": f"172.18.0.{i + 1}"},
                                  {"type": "Hostname", "address": name}],
                    "nodeInfo": {"kubeletVersion": "v1.32.0", "kubeProxyVersion": "v1.32.0",
                                 "osImage": "opsgym simulated node", "kernelVersion": "6.1.0-sim",
                                 "containerRuntimeVersion": "containerd://1.7.18", "operatingSystem": "linux",
                                 "architecture": "amd64", "machineID": self.uid().replace("-", ""),
                                 "systemUUID": self.uid(), "bootID": self.uid()}}})
        self.api.create(lookup("services"), "default", {
            "metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
            "spec": {"clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "targetPort": 6443}]}})
        self.api.create(lookup("endpoints"), "default", {
            "metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
            "subsets": [{"addresses": [{"ip": "172.18.0.2"}], "ports": [{"name": "https", "port": 6443,
                                                                          "protocol": "TCP"}]}]})
        bootstrap_storage(self)
        self.policy.bootstrap()
        bootstrap_system(self)

    # ------------------------------------------------------------------------------------------------ time
    def reconcile(self) -> None:
        """Run controllers and the kubelet at the current instant until nothing changes.

        A settled cluster is left alone until its store changes or its clock reaches the instant at which a pass could
        act again (:meth:`_quiet_until`): such a pass would write nothing and change no kubelet record, so skipping it
        keeps every state identical while an idle cluster advances for free.
        """
        quiet = self._quiet
        if self.skip_idle and quiet is not None and quiet[0] == self.store.state_id and self.clock.now < quiet[1]:
            return
        self._quiet = None
        steps = (self.policy.run, self.controllers.run, self.storage.run, self.disruption.run, self.workloads.run,
                 self.kinds.run, self.kubelet.sync, self.controllers.endpoints, self.autoscaler.run)
        for _ in range(MAX_PASSES):
            before, failed = self.store.state_id, False
            for step in steps:
                try:
                    step()
                except Exception:  # a controller bug must not stop the cluster; every write is atomic per object
                    failed = True
                    log.exception("embedded cluster: %s failed; the other controllers carry on", step.__qualname__)
            if self.store.state_id == before:
                if not failed:
                    self._quiet = (before, self._quiet_until())
                return

    def _quiet_until(self) -> float:
        """When a settled cluster may act again by itself: the earliest timer or recheck of its timed parts."""
        try:
            times = self._timers(quiet=True)
        except Exception:  # a malformed object the controllers choke on: never skip a pass for it
            log.debug("embedded cluster: no quiet horizon", exc_info=True)
            return self.clock.now
        return min(times, default=math.inf) - HORIZON_SLACK_S

    def next_timer(self) -> float | None:
        """The next virtual instant at which something happens by itself (a back-off expiring, a probe …)."""
        times = self._timers(quiet=False)
        return min(times) if times else None

    def _timers(self, *, quiet: bool) -> list[float]:
        """Each timed part's next instant: with ``quiet``, its ``quiet_until`` (timers plus rechecks) where it has
        one; otherwise its ``next_timer``. One list, so a new controller with a timer is added in one place."""
        parts = (self.kubelet, self.workloads, self.kinds, self.autoscaler, self.controllers.scheduler)
        times = []
        for part in parts:
            when = (getattr(part, "quiet_until", part.next_timer) if quiet else part.next_timer)()
            if when is not None:
                times.append(when)
        return times

    def advance(self, seconds: float) -> None:
        """Step the clock by ``seconds``, stopping at every timer on the way so events happen in order."""
        target = self.clock.now + max(0.0, float(seconds))
        self.advance_target = target
        self.reconcile()
        for _ in range(100_000):
            when = self.next_timer()
            if when is None or when > target:
                break
            self.clock.advance_to(when)
            self.reconcile()
        self.clock.advance_to(target)
        self.reconcile()
        self.advance_target = None
        self.events.expire()

    # ------------------------------------------------------------------------------------------------ snapshots
    def snapshot(self) -> Snapshot:
        snap = self.store.snapshot()
        snap.extra = {"now": self.clock.now, "rng": self.rng.getstate(), "counters": copy.deepcopy(self.counters),
                      "events": dict(self.events.index), "kubelet": self.kubelet.save(),
                      "metrics": self.metrics.save(), "autoscaler": self.autoscaler.save()}
        return snap

    def restore(self, snap: Snapshot) -> None:
        self.store.restore(snap)
        self.clock.now = snap.extra["now"]
        self.rng.setstate(snap.extra["rng"])
        self.counters = copy.deepcopy(snap.extra["counters"])
        self.events.index = dict(snap.extra["events"])
        self.kubelet.load(snap.extra["kubelet"])
        self.metrics.load(snap.extra["metrics"])
        self.autoscaler.load(snap.extra["autoscaler"])
