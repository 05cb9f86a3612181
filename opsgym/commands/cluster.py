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


def _load_task(task_id: str, seed: int, options: dict[str, Any]) -> Any:
    """Render ``task_id``'s scenario for ``seed`` through its domain's scenario; returns the started backend."""
    task = plugins.get("task", task_id).factory
    domain = get_domain(task.domain)
    if domain.backend_kind != "cluster backend":
        raise typer.BadParameter(f"{task_id} is a {task.domain} task; only SRE tasks have a cluster",
                                 param_hint="--task")
    scenario: Any = domain.scenario_class()(task, backend="sim", backend_options=options)
    alert, _ = scenario.reset(seed)
    console.print(f"[bold]{task_id}[/bold] seed {seed} loaded. The alert an agent would see:\n{alert}")
    return scenario.backend


@cluster_app.command("up")
def up(kubeconfig: Path = typer.Option(..., "--kubeconfig", help="where to write the kubeconfig for kubectl"),
       task: str | None = typer.Option(None, "--task", help="an SRE task id (e.g. SRE-1) whose incident to load"),
       seed: int = typer.Option(0, "--seed", help="seed for the task's choices and the cluster's identities"),
       realtime: bool = typer.Option(True, "--realtime/--frozen",
                                     help="let the cluster clock follow the wall clock (default) or stay still"),
       ) -> None:
    """Serve one embedded cluster until interrupted (Ctrl-C)."""
    # The clock starts ten minutes in the past and then follows the wall clock, so a loaded incident has already
    # run for a while and kubectl's client-side ages (describe) agree with the server's.
    options: dict[str, Any] = {"seed": seed, "kubeconfig": kubeconfig.resolve(),
                               "epoch": float(int(time.time()) - HEAD_START_S)}
    if task:
        cluster = _load_task(task, seed, options)
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
