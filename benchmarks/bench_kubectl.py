"""The agent's kubectl step against the bare kubectl process, with and without its bubblewrap sandbox.

``env.step("kubectl get pods -A")`` on SRE-1 costs the parse, the kubectl process, the sandbox (when on) and the
env's bookkeeping (the simulated clock advances after each action). The floor is the same kubectl command started
directly with the episode's kubeconfig and nothing else. Samples of the three are interleaved so that machine noise
hits them alike.

Run: ``python benchmarks/bench_kubectl.py``. Prints medians and ratios measured in this run; asserts nothing.
Target (issue 15): a sandboxed step ≤ 1.25× the floor.
"""

from __future__ import annotations

import statistics
import subprocess
import time

import gymnasium as gym

import opsgym  # noqa: F401  (registers the opsgym/* envs)
from opsgym.cluster.kubectl import GO_RUNTIME, Kubectl, find_kubectl

ACTION = "kubectl get pods -A"
ROUNDS = 40


def main() -> None:
    sandboxed, bare = gym.make("opsgym/SRE-1", max_steps=10_000), gym.make("opsgym/SRE-1", max_steps=10_000)
    sandboxed.reset(seed=0)
    bare.reset(seed=0)
    scenario = bare.unwrapped._scenario
    scenario.kubectl = Kubectl(scenario.backend.kubeconfig, sandbox=False)  # today's (before) runner
    kubeconfig = sandboxed.unwrapped._scenario.backend.kubeconfig
    env = {**GO_RUNTIME, "KUBECONFIG": str(kubeconfig), "KUBECACHEDIR": str(kubeconfig.parent / "cache")}
    binary = find_kubectl()

    def floor() -> None:
        subprocess.run([binary, *ACTION.split()[1:]], env=env, capture_output=True, check=True)

    runs = {"floor (bare kubectl)": floor, "step, unsandboxed (before)": lambda: bare.step(ACTION),
            "step, sandboxed (after)": lambda: sandboxed.step(ACTION)}
    for fn in runs.values():  # warm the discovery caches
        fn()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(ROUNDS):
        for name, fn in runs.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    base = statistics.median(samples["floor (bare kubectl)"])
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"{name:30s} median {median * 1e3:6.1f} ms  (min {min(values) * 1e3:5.1f})  {median / base:5.2f}x floor")
    sandboxed.close()
    bare.close()


if __name__ == "__main__":
    main()
