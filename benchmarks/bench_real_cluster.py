"""Real cluster vs embedded cluster: cluster start, per-episode reset and fault-to-observable, as ratios.

Run: ``.venv/bin/python benchmarks/bench_real_cluster.py [--episodes 3] [--task SRE-1]``. Prints numbers; asserts
nothing. The embedded side is always measured: its cached reset (snapshot restore, what an episode costs once a seed
is warm), its first load (render + settle on the virtual clock) and a real-style reset against it (namespace teardown
and re-apply through the kubernetes client, the exact code path kind uses, minus the kubelet). With a Docker engine
and the kind CLI it also creates a throw-away kind cluster (``opsgym-bench``), runs ``--episodes`` resets on it and
deletes it; without them it says why and stops after the embedded side.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from typing import Any

from opsgym.cluster.access import MANAGED_LABELS
from opsgym.cluster.kind import KindCluster, unavailable_reason
from opsgym.cluster.kubeconfig import KubeconfigCluster
from opsgym.cluster.real import apply_order
from opsgym.cluster.sim import SimCluster
from opsgym.sre.checks import ClusterView, crashlooping
from opsgym.sre.render import Episode, plan
from opsgym.tasks import catalog_folders, load_task


def _ready(episode: Episode) -> Any:
    others = [s for s in episode.app.services if s != episode.service and episode.replicas[s] > 0]
    return lambda api: crashlooping(ClusterView(api), episode.namespace, episode.service, others)


def _median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def embedded(task: Any, episodes: int) -> dict[str, float]:
    """Seconds for the embedded cluster's start, first load, cached reset and client-side re-apply."""
    t0 = time.perf_counter()
    sim = SimCluster()
    sim.start()
    start_s = time.perf_counter() - t0
    first, cached, fault_virtual = [], [], []
    for seed in range(episodes):
        episode = plan(task, seed)
        t0 = time.perf_counter()
        sim.load(f"bench/{seed}", episode.objects, ready=_ready(episode))
        first.append(time.perf_counter() - t0)
        fault_virtual.append(sim.now() - sim.epoch)  # a first load starts from the empty cluster at the epoch
        t0 = time.perf_counter()
        sim.load(f"bench/{seed}", episode.objects, ready=_ready(episode))
        cached.append(time.perf_counter() - t0)
    sim.close()
    sim = SimCluster()  # a fresh one: the namespaces sim.load made are not labelled as the real backends' own
    sim.start()
    client_side = KubeconfigCluster(kubeconfig=sim.kubeconfig, poll_s=0.01)
    client_side.start()
    reapply = []
    for seed in range(episodes):
        objects = copy.deepcopy(plan(task, seed).objects())
        objects[0]["metadata"].setdefault("labels", {}).update(MANAGED_LABELS)
        t0 = time.perf_counter()
        client_side.teardown_namespace(objects[0]["metadata"]["name"])
        for obj in apply_order(objects):
            client_side.create(obj)
        reapply.append(time.perf_counter() - t0)
    client_side.close()
    sim.close()
    return {"start_s": start_s, "first_load_s": _median(first), "cached_reset_s": _median(cached),
            "client_reapply_s": _median(reapply), "fault_virtual_s": _median(fault_virtual)}


def kind(task: Any, episodes: int) -> dict[str, float]:
    """Seconds for kind's cluster create, its reset phases and fault-to-observable (wall clock)."""
    backend = KindCluster(name="opsgym-bench", reuse=False)
    t0 = time.perf_counter()
    backend.start()
    start_s = time.perf_counter() - t0
    resets, teardowns, applies, faults = [], [], [], []
    try:
        for seed in range(episodes):
            episode = plan(task, seed)
            t0 = time.perf_counter()
            backend.load(f"bench/{seed}", episode.objects, ready=_ready(episode))
            resets.append(time.perf_counter() - t0)
            teardowns.append(backend.timings["teardown_s"])
            applies.append(backend.timings["prepare_s"] + backend.timings["apply_s"])
            faults.append(backend.timings["ready_s"])
    finally:
        t0 = time.perf_counter()
        backend.close()
        delete_s = time.perf_counter() - t0
    return {"start_s": start_s, "create_s": backend.create_s, "reset_s": _median(resets),
            "teardown_s": _median(teardowns[1:] or teardowns), "apply_s": _median(applies),
            "fault_wall_s": _median(faults), "close_s": delete_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--episodes", type=int, default=3)
    parser.add_argument("--task", default="SRE-1")
    args = parser.parse_args()
    task = next(t for t in (load_task(f) for f in catalog_folders()) if t.id == args.task)

    sim = embedded(task, args.episodes)
    print(f"{args.task}, {args.episodes} episode(s), medians")
    print("embedded cluster:")
    print(f"  start                       {sim['start_s'] * 1000:9.1f} ms")
    print(f"  first load (render+settle)  {sim['first_load_s'] * 1000:9.1f} ms  "
          f"(fault observable after {sim['fault_virtual_s']:.0f} virtual s)")
    print(f"  cached reset (restore)      {sim['cached_reset_s'] * 1000:9.1f} ms")
    print(f"  namespace teardown+re-apply {sim['client_reapply_s'] * 1000:9.1f} ms  (the real backends' client path)")
    print(f"  ratio re-apply / cached reset: {sim['client_reapply_s'] / sim['cached_reset_s']:.1f}x")

    reason = unavailable_reason()
    if reason:
        print(f"kind: not measured here: {reason}")
        return
    real = kind(task, args.episodes)
    print("kind cluster:")
    print(f"  start (kind create cluster) {real['start_s']:9.1f} s   (create {real['create_s']:.1f} s)")
    print(f"  reset (teardown+apply+wait) {real['reset_s']:9.1f} s   (teardown {real['teardown_s']:.1f} s, apply "
          f"{real['apply_s']:.1f} s)")
    print(f"  fault to observable         {real['fault_wall_s']:9.1f} s   wall")
    print(f"  close (kind delete cluster) {real['close_s']:9.1f} s")
    print("ratios kind / embedded:")
    print(f"  start:                       {real['start_s'] / sim['start_s']:10.0f}x")
    print(f"  reset vs cached reset:       {real['reset_s'] / sim['cached_reset_s']:10.0f}x")
    print(f"  reset vs first load:         {real['reset_s'] / sim['first_load_s']:10.0f}x")
    print(f"  teardown+apply vs re-apply:  {(real['teardown_s'] + real['apply_s']) / sim['client_reapply_s']:10.1f}x")
    print(f"  fault wall s / virtual s:    {real['fault_wall_s'] / max(sim['fault_virtual_s'], 1e-9):10.2f}")
    print(f"  recreating the cluster instead of re-applying would cost {real['create_s'] / real['reset_s']:.1f}x "
          "per episode")


if __name__ == "__main__":
    main()
