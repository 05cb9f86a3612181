"""``opsgym cluster up``: serve one embedded cluster (optionally with a task's incident loaded) until interrupted,
so a person can look around with kubectl, k9s or the Python client.

The cluster runs in real time here (its clock follows the wall clock from now on), so ages and back-offs look as
they would on a live cluster; episodes use the same cluster with a purely virtual clock.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import typer

from opsgym import plugins
from opsgym.commands import console
from opsgym.commands.app import app
from opsgym.domain import get_domain

__all__ = ["cluster_app"]

cluster_app = typer.Typer(help="Run the embedded Kubernetes cluster.", no_args_is_help=True)
app.add_typer(cluster_app, name="cluster")
HEAD_START_S = 600


def _load_task(task_id: str, seed: int, options: dict[str, Any]) -> tuple[Any, str]:
    """Render ``task_id``'s scenario for ``seed`` through its domain's scenario; the started backend and the alert."""
    task = plugins.get("task", task_id).factory
    domain = get_domain(task.domain)
    if domain.backend_kind != "cluster backend":
        raise typer.BadParameter(f"{task_id} is a {task.domain} task; only SRE tasks have a cluster",
                                 param_hint="--task")
    scenario: Any = domain.scenario_class()(task, backend="sim", backend_options=options)
    alert, _ = scenario.reset(seed)
    return scenario.backend, alert


def _settle_until_now(task_id: str, seed: int, options: dict[str, Any]) -> tuple[Any, str]:
    """Load ``task_id`` so that its settled clock ends at the wall clock.

    A task settles for as long as its incident takes to show (a deterministic virtual duration per task and seed), so
    it is loaded once to measure that duration and, if it overran the head start, again with the clock started that
    long ago: the cluster never runs ahead of the wall clock, so kubectl's client-side ages (``describe``, ``kubectl
    events``) and the server's (``get``) agree from the first command.
    """
    cluster, alert = _load_task(task_id, seed, options)
    settled_s = cluster.now() - options["epoch"]
    if cluster.now() <= time.time():
        return cluster, alert
    cluster.close()
    return _load_task(task_id, seed, {**options, "epoch": float(int(time.time()) - int(settled_s) - 1)})


@cluster_app.command("up")
def up(kubeconfig: Path = typer.Option(..., "--kubeconfig", help="where to write the kubeconfig for kubectl"),
       task: str | None = typer.Option(None, "--task", help="an SRE task id (e.g. SRE-1) whose incident to load"),
       seed: int = typer.Option(0, "--seed", help="seed for the task's choices and the cluster's identities"),
       realtime: bool = typer.Option(True, "--realtime/--frozen",
                                     help="let the cluster clock follow the wall clock (default) or stay still"),
       ) -> None:
    """Serve one embedded cluster until interrupted (Ctrl-C)."""
    # The clock starts in the past and then follows the wall clock, so a loaded incident has already run for a while
    # and kubectl's client-side ages (describe) agree with the server's. A waiting watch may not fast-forward a
    # real-time clock: it would run ahead of the wall clock and freeze until the wall caught up.
    options: dict[str, Any] = {"seed": seed, "kubeconfig": kubeconfig.resolve(),
                               "epoch": float(int(time.time()) - HEAD_START_S)}
    if realtime:
        options["watch_advance_s"] = 0.0
    if task:
        cluster, alert = _settle_until_now(task, seed, options)
        console.print(f"[bold]{task}[/bold] seed {seed} loaded. The alert an agent would see:\n{alert}")
    else:
        cluster = plugins.create("cluster backend", "sim", **options)
        cluster.start()
    console.print(f"Embedded cluster ready: export KUBECONFIG={kubeconfig.resolve()}  (server {cluster.url})",
                  soft_wrap=True)
    stop = threading.Event()
    try:
        while not stop.wait(1.0):
            behind = time.time() - cluster.now()
            if realtime and behind > 0:
                cluster.advance(behind)
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        cluster.close()
