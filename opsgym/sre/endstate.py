"""End-state checks that only the real fix passes, beside the health checks of :mod:`opsgym.sre.checks`.

A healthy faulty service proves little on its own: it is healthy too when it runs another program, reads another
value that it never validates, or calls the key-value store instead of its real dependency. So the end state must
also show

- the faulty workload, what it reads and the task's repairable objects as in the app before the fault, except for
  the task's ``repairable`` fields (:mod:`opsgym.sre.pristine`); for a no-fault control, the whole app untouched;
- settings its own program accepts: the program starts in the simulated runtime with the end state's inputs;
- requests that flow: the app's end-to-end request (:mod:`opsgym.sre.flow`) reaches the faulty service, which answers
  as itself and calls exactly the Services of its pristine dependencies, resolved as the program resolves them (so
  ``cart``, ``cart.shop`` and ``cart.shop.svc.cluster.local`` all pass, the key-value store in cart's place does not);
  the whole shop answering is reported as collateral (another service broken on the way is collateral damage, not a
  failed repair).
"""

from __future__ import annotations

from opsgym.outcome import CheckResult
from opsgym.runtime.sim import ContainerRun
from opsgym.sre.checks import Baseline, ClusterView, check_result
from opsgym.sre.flow import ApiStore, FlowResult, real_request, request_flow, start_template
from opsgym.sre.pristine import differences, referenced
from opsgym.sre.render import Episode

__all__ = ["repair_checks"]

NO_ANSWER = frozenset({0, 503, 508})
"""Statuses of a request that reached no program (nothing listening, a pod that does not serve, a request loop)."""


def _pristine(view: ClusterView, base: Baseline, episode: Episode) -> CheckResult:
    """Only the repairable fields differ from the pristine app: for the faulty workload, what it reads and every
    object the task names as repairable; for a no-fault control, every object of the app."""
    namespace, name = episode.namespace, episode.service
    if episode.task.sre.control:
        keys, label = list(base.loaded), "app-unchanged"
    else:
        keys = [("Deployment", name), *referenced(base.loaded.get(("Deployment", name)) or {}), *base.repairable]
        label = f"{name}-unchanged-but-repaired"
    changed: list[str] = []
    for kind, obj_name in dict.fromkeys(k for k in keys if k in base.loaded):
        live = view.get(kind, namespace, obj_name)
        changed += [f"{kind} {obj_name}: {path}" for path in
                    differences(kind, live, base.loaded[kind, obj_name], base.repairable.get((kind, obj_name), []),
                                tolerate=not episode.task.sre.control)]
        uid = base.uids.get((kind, obj_name))
        if live is not None and uid is not None and live["metadata"].get("uid") != uid:
            changed.append(f"{kind} {obj_name}: deleted and re-created")
        if episode.task.sre.control and kind == "Deployment" and live is not None and \
                int(live["spec"].get("replicas", 1)) != base.replicas.get(obj_name):
            changed.append(f"{kind} {obj_name}: spec.replicas")  # scaling up is a change a false alarm did not ask
    return check_result(label, not changed, "changed besides the repair: " + "; ".join(changed[:8]) if changed else
                        "only the repairable fields differ from the app before the fault")


def _accepted(view: ClusterView, store: ApiStore, episode: Episode) -> CheckResult:
    name = episode.service
    deployment = view.get("Deployment", episode.namespace, name)
    run: ContainerRun | str = start_template(store, episode.namespace, deployment) if deployment else \
        f"Deployment {name} is gone"
    if isinstance(run, str):
        return check_result(f"{name}-settings-accepted", False, run)
    ok = run.exit_code is None and run.ready
    last = run.logs[-1] if run.logs else ""
    return check_result(f"{name}-settings-accepted", ok,
                        "the program starts and serves with its settings as they stand" if ok else
                        f"the program does not start with its settings as they stand (exit {run.exit_code}): {last}")


def _dependency_check(episode: Episode, flow: FlowResult) -> CheckResult:
    """The faulty service, reached by the shop's request, answered as itself and called exactly the Services of its
    pristine dependencies, each answering as itself when it answered at all (one that is down is collateral)."""
    name, wanted = episode.service, set(episode.app.dependencies.get(episode.service, ()))
    own = [hop for hop in flow.hops if hop.reached == name]
    calls = [hop for hop in flow.hops if hop.caller == name]
    if not own:
        return check_result(f"{name}-answers-requests", False, "the shop's request never reached it")
    last, problems = own[-1], []
    if last.answered_as != name:
        problems.append(f"it did not answer as {name}: {last.status or 'no answer'} {last.body.strip()[:200]}")
    elif last.status != 200 and not wanted:
        problems.append(f"it answered {last.status}: {last.body.strip()[:200]}")
    reached = {hop.reached for hop in calls}
    if reached != wanted:
        problems.append(f"its requests reached {', '.join(sorted(reached)) or 'nothing'}, "
                        f"not {', '.join(sorted(wanted)) or 'nothing'}")
    problems += sorted({f"{hop.reached} answered as {hop.answered_as or 'nobody'} ({hop.status})" for hop in calls
                        if hop.status not in NO_ANSWER and hop.answered_as != hop.reached})
    detail = "; ".join(problems) if problems else "answered the shop's request as itself" + (
        f", calling {', '.join(sorted(wanted))}" if wanted else "")
    return check_result(f"{name}-answers-requests", not problems, detail)


def _request_checks(episode: Episode, target: str, flow: FlowResult, real: FlowResult | None) -> list[CheckResult]:
    out = [_dependency_check(episode, flow)]
    everyone = set(episode.app.services)
    results = [("simulated", flow)] + ([("real", real)] if real is not None else [])
    problems = [f"{label}: {r.status or 'no answer'} {r.body.strip()[:300]}" if r.status != 200 else
                f"{label}: not answered by {', '.join(sorted(everyone - r.services))}"
                for label, r in results if r.status != 200 or not r.services >= everyone]
    out.append(check_result("shop-request-flow", not problems,
                            f"{target} answered by every service" if not problems else
                            f"{target}: {'; '.join(problems)}", episode.task.sre.request))
    return out


def repair_checks(view: ClusterView, base: Baseline, episode: Episode, *, real: bool) -> list[CheckResult]:
    """The end-state checks beyond health. ``real``: the backend runs real containers, so the real shop is also
    asked the end-to-end request (through the API server's service proxy)."""
    store = ApiStore(view.reader)
    out = [_pristine(view, base, episode), _accepted(view, store, episode)]
    request = episode.app.request
    if request is not None:
        flow = request_flow(store, episode.namespace, request.service, request.port, request.path)
        live = real_request(view.reader, episode.namespace, request.service, request.port, request.path) \
            if real else None
        out += _request_checks(episode, f"GET {request.service}:{request.port}{request.path}", flow, live)
    return out
