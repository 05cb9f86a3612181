"""Jobs and CronJobs on the virtual clock: completions and parallelism, back-off limit, deadline, TTL, suspend;
schedules played in order, concurrency policies, history limits, a bounded virtual year; and the real kubectl."""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator

import pytest
import yaml
from simkit import FakeRuntime, Kubectl, create, events, get, rows

from opsgym.cluster.sim import SimCluster
from opsgym.cluster.sim.clock import rfc3339
from opsgym.cluster.sim.engine import Engine
from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.status import ApiError

needs_kubectl = pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")


def job(behaviour: str = "done", *, policy: str = "Never", name: str = "pi", **spec: object) -> dict:
    container = {"name": "main", "image": "busybox:1.36", "env": [{"name": "BEHAVIOUR", "value": behaviour}]}
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": "default"},
            "spec": {"template": {"spec": {"restartPolicy": policy, "containers": [container]}}, **spec}}


def cronjob(schedule: str = "*/1 * * * *", behaviour: str = "done", **spec: object) -> dict:
    template = job(behaviour)["spec"]
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "tick", "namespace": "default"},
            "spec": {"schedule": schedule, "jobTemplate": {"spec": template}, **spec}}


def job_pods(engine: Engine, name: str = "pi") -> list[dict]:
    return [p for p in engine.store.items("pods", "default")
            if (p["metadata"].get("labels") or {}).get("job-name") == name]


def conditions(obj: dict) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c.get("reason", "")) for c in (obj.get("status") or {}).get("conditions") or []]


def messages(engine: Engine, reason: str) -> list[str]:
    return [e["message"] for e in sorted(events(engine, "default", reason), key=lambda e: e["metadata"]["name"])]


def jobs(engine: Engine) -> list[str]:
    return [j["metadata"]["name"] for j in engine.store.items("jobs", "default")
            if not j["metadata"].get("deletionTimestamp")]


def patch(engine: Engine, plural: str, name: str, body: dict) -> None:
    with engine.lock:
        engine.api.patch(lookup(plural), "default", name, "merge", body)
        engine.reconcile()


# ------------------------------------------------------------------------------------------------ Job
def test_a_job_runs_parallelism_pods_until_its_completions_succeed(engine):
    created = create(engine, job(completions=3, parallelism=2))
    uid = created["metadata"]["uid"]
    assert created["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert created["metadata"]["labels"] == {"batch.kubernetes.io/controller-uid": uid,
                                             "batch.kubernetes.io/job-name": "pi", "controller-uid": uid,
                                             "job-name": "pi"}
    pods = job_pods(engine)
    assert len(pods) == 2 and all(p["metadata"]["name"].startswith("pi-") for p in pods)
    assert pods[0]["metadata"]["finalizers"] == ["batch.kubernetes.io/job-tracking"]
    engine.advance(1)
    engine.advance(1)
    status = get(engine, "jobs", "pi")["status"]
    assert (status["succeeded"], status.get("active", 0), status["ready"]) == (3, 0, 0)
    assert conditions(get(engine, "jobs", "pi")) == [("SuccessCriteriaMet", "True", "CompletionsReached"),
                                                     ("Complete", "True", "CompletionsReached")]
    assert status["completionTime"] and status["uncountedTerminatedPods"] == {}
    assert len(messages(engine, "SuccessfulCreate")) == 3 and messages(engine, "Completed") == ["Job completed"]
    assert all(not p["metadata"].get("finalizers") for p in job_pods(engine)), "counted pods are released"


def test_failed_pods_count_against_the_backoff_limit_with_growing_delays(engine):
    create(engine, job("crash", backoffLimit=2))
    created_at = []
    for _ in range(80):
        created_at += [p["metadata"]["creationTimestamp"] for p in job_pods(engine)
                       if p["metadata"]["creationTimestamp"] not in created_at]
        engine.advance(1)
    assert len(created_at) == 3, "the first pod and two retries"
    gaps = [engine.parse(b) - engine.parse(a) for a, b in itertools.pairwise(created_at)]
    assert gaps == [11, 21], "each retry waits 10 s, then 20 s, after the previous pod ended (1 s after start)"
    finished = get(engine, "jobs", "pi")
    assert conditions(finished) == [("FailureTarget", "True", "BackoffLimitExceeded"),
                                    ("Failed", "True", "BackoffLimitExceeded")]
    assert finished["status"]["failed"] == 3 and "completionTime" not in finished["status"]
    assert messages(engine, "BackoffLimitExceeded") == ["Job has reached the specified backoff limit"]


def test_on_failure_counts_container_restarts(engine):
    create(engine, job("crash", policy="OnFailure", backoffLimit=1))
    engine.advance(30)
    assert conditions(get(engine, "jobs", "pi"))[-1] == ("Failed", "True", "BackoffLimitExceeded")
    assert job_pods(engine) == [], "the restarting pod was deleted"


def test_active_deadline_fails_the_job_and_stops_its_pods(engine):
    create(engine, job("serve", activeDeadlineSeconds=30))
    engine.advance(29)
    assert get(engine, "jobs", "pi")["status"]["active"] == 1
    engine.advance(1)
    finished = get(engine, "jobs", "pi")
    assert conditions(finished) == [("FailureTarget", "True", "DeadlineExceeded"),
                                    ("Failed", "True", "DeadlineExceeded")]
    assert finished["status"].get("active", 0) == 0 and finished["status"]["failed"] == 1
    assert messages(engine, "DeadlineExceeded") == ["Job was active longer than specified deadline"]
    assert job_pods(engine) == []


def test_ttl_after_finished_deletes_the_job_and_its_pods(engine):
    create(engine, job(ttlSecondsAfterFinished=100))
    engine.advance(50)
    assert jobs(engine) == ["pi"] and job_pods(engine)
    engine.advance(60)
    assert jobs(engine) == [] and job_pods(engine) == []


def test_a_suspended_job_starts_when_resumed(engine):
    create(engine, job("serve", suspend=True))
    assert job_pods(engine) == [] and conditions(get(engine, "jobs", "pi")) == [("Suspended", "True",
                                                                                "JobSuspended")]
    patch(engine, "jobs", "pi", {"spec": {"suspend": False}})
    assert len(job_pods(engine)) == 1
    assert conditions(get(engine, "jobs", "pi")) == [("Suspended", "False", "JobResumed")]


@pytest.mark.parametrize(("manifest", "message"), [
    (job(policy="Always"), 'spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: '
     '"OnFailure", "Never"'),
    (job(backoffLimit=-1), "spec.backoffLimit: Invalid value: -1: must be greater than or equal to 0"),
    (job(selector={"matchLabels": {"a": "b"}}), "spec.selector: Invalid value"),
    (cronjob("every minute"), 'spec.schedule: Invalid value: "every minute": expected exactly 5 fields, found 2'),
    (cronjob("CRON_TZ=UTC * * * * *"), "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"),
    (cronjob(timeZone="Mars/Olympus"), 'spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone '
     "Mars/Olympus"),
    (cronjob(concurrencyPolicy="Sometimes"), 'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported '
     'values: "Allow", "Forbid", "Replace"'),
])
def test_invalid_batch_objects_are_refused_as_by_the_api_server(engine, manifest, message):
    with pytest.raises(ApiError) as caught:
        create(engine, manifest)
    assert caught.value.code == 422 and message in caught.value.message


def test_a_jobs_template_is_immutable(engine):
    create(engine, job("serve"))
    with pytest.raises(ApiError) as caught:
        patch(engine, "jobs", "pi", {"spec": {"template": {"spec": {"activeDeadlineSeconds": 5}}}})
    assert "spec.template: Invalid value" in caught.value.message and "field is immutable" in caught.value.message


# ------------------------------------------------------------------------------------------------ CronJob
def test_a_cronjob_runs_once_per_minute_and_keeps_its_history(engine):
    cj = create(engine, cronjob())
    assert cj["spec"] | {"jobTemplate": None} == {
        "schedule": "*/1 * * * *", "jobTemplate": None, "concurrencyPolicy": "Allow", "suspend": False,
        "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 1}
    start = engine.clock.now
    assert engine.next_timer() == start + 60
    engine.advance(300)
    created = messages(engine, "SuccessfulCreate")
    minutes = [int((start + 60 * i) // 60) for i in range(1, 6)]
    assert [m for m in created if m.startswith("Created job")] == [f"Created job tick-{m}" for m in minutes]
    assert jobs(engine) == [f"tick-{m}" for m in minutes[1:]], "three finished Jobs kept, plus the running one"
    status = get(engine, "cronjobs", "tick")["status"]
    assert status["lastScheduleTime"] == rfc3339(start + 300)
    assert [r["name"] for r in status["active"]] == [f"tick-{minutes[-1]}"]
    assert status["lastSuccessfulTime"] == rfc3339(start + 241)
    scheduled = get(engine, "jobs", f"tick-{minutes[0] + 1}")["metadata"]["annotations"]
    assert scheduled["batch.kubernetes.io/cronjob-scheduled-timestamp"] == "2025-01-01T00:02:00+00:00"


def test_a_cluster_with_nothing_else_to_do_still_wakes_for_the_schedule(engine):
    create(engine, cronjob("*/5 * * * *"))
    engine.reconcile()
    assert engine._quiet is not None and engine._quiet[1] <= engine.clock.now + 300
    engine.advance(299)
    assert jobs(engine) == []
    engine.advance(1)
    assert len(jobs(engine)) == 1


def test_forbid_skips_runs_while_one_is_active(engine):
    create(engine, cronjob(behaviour="serve", concurrencyPolicy="Forbid"))
    engine.advance(180)
    assert len(jobs(engine)) == 1
    skipped = events(engine, "default", "JobAlreadyActive")
    assert [(e["message"], e["count"]) for e in skipped] == [
        ("Not starting job because prior execution is running and concurrency policy is Forbid", 2)]


def test_replace_deletes_the_running_job_first(engine):
    create(engine, cronjob(behaviour="serve", concurrencyPolicy="Replace"))
    engine.advance(120)
    assert len(jobs(engine)) == 1 and jobs(engine)[0].endswith(str(int(engine.clock.now // 60)))
    assert len(messages(engine, "SuccessfulDelete")) == 1


def test_suspend_stops_the_runs_and_the_starting_deadline_drops_late_ones(engine):
    create(engine, cronjob(suspend=True, startingDeadlineSeconds=10))
    assert engine.next_timer() is None
    engine.advance(150)
    assert jobs(engine) == []
    patch(engine, "cronjobs", "tick", {"spec": {"suspend": False}})
    assert jobs(engine) == [], "00:02 is more than startingDeadlineSeconds ago: not started late"
    engine.advance(30)
    assert jobs(engine) == [f"tick-{int(engine.clock.now // 60)}"]


def test_without_a_deadline_the_latest_missed_time_starts_at_once(engine):
    create(engine, cronjob(suspend=True))
    engine.advance(150)
    patch(engine, "cronjobs", "tick", {"spec": {"suspend": False}})
    assert jobs(engine) == [f"tick-{int((engine.clock.now - 30) // 60)}"], "the 00:02 run, not 00:01 as well"


def test_the_schedule_follows_the_time_zone(engine):
    create(engine, cronjob("30 9 * * *", timeZone="Asia/Tokyo"))
    assert engine.next_timer() == engine.clock.now + 30 * 60, "09:30 in Tokyo is 00:30 UTC"


def test_a_virtual_year_of_every_minute_stays_bounded(engine):
    create(engine, cronjob())
    start, revision = engine.clock.now, engine.store.revision
    engine.advance(365 * 86400)
    assert engine.store.revision - revision < 10_000, "a hundred runs were played, not half a million"
    status = get(engine, "cronjobs", "tick")["status"]
    assert status["lastScheduleTime"] == rfc3339(start + 365 * 86400)
    assert len(jobs(engine)) == 4


# ------------------------------------------------------------------------------------------------ kubectl
@pytest.fixture(scope="module")
def cluster() -> Iterator[SimCluster]:
    with SimCluster(seed=5, runner=FakeRuntime()) as sim:
        yield sim


@pytest.fixture(scope="module")
def kubectl(cluster: SimCluster, tmp_path_factory: pytest.TempPathFactory) -> Kubectl:
    return Kubectl(cluster.kubeconfig, tmp_path_factory.mktemp("kube-cache"))


def manifest(obj: dict) -> str:
    del obj["metadata"]["namespace"]
    return yaml.safe_dump(obj)


@needs_kubectl
def test_kubectl_get_jobs_shows_status_completions_and_duration(cluster, kubectl):
    kubectl("apply", "-f", "-", stdin=manifest(job(completions=2)))
    assert rows(kubectl("get", "jobs"))[0] == ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    assert rows(kubectl("get", "job", "pi"))[1][:4] == ["pi", "Running", "0/2", "0s"]
    cluster.advance(5)
    assert rows(kubectl("get", "job", "pi"))[1][:5] == ["pi", "Complete", "2/2", "2s", "5s"]
    wide = rows(kubectl("get", "job", "pi", "-o", "wide"))
    assert wide[0][-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert wide[1][-1].startswith("batch.kubernetes.io/controller-uid=")


@needs_kubectl
def test_kubectl_sees_the_backoff_limit_reached(cluster, kubectl):
    kubectl("apply", "-f", "-", stdin=manifest(job("crash", name="bad", backoffLimit=0)))
    cluster.advance(5)
    assert rows(kubectl("get", "job", "bad"))[1][:3] == ["bad", "Failed", "0/1"]
    reasons = kubectl("get", "job", "bad", "-o", "jsonpath={.status.conditions[*].reason}")
    assert reasons == "BackoffLimitExceeded BackoffLimitExceeded"


@needs_kubectl
def test_kubectl_cronjob_columns_and_runs_on_the_virtual_clock(cluster, kubectl):
    kubectl("apply", "-f", "-", stdin=manifest(cronjob()))
    table = rows(kubectl("get", "cronjobs"))
    assert table[0] == ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]
    assert table[1][:7] == ["tick", "*/1", "*", "*", "*", "*", "<none>"]
    assert table[1][7:10] == ["False", "0", "<none>"]
    cluster.advance(300)
    tick_jobs = [r[:2] for r in rows(kubectl("get", "jobs", "--no-headers")) if r[0].startswith("tick-")]
    assert [status for _, status in tick_jobs] == ["Complete"] * 3, "five runs, the three latest kept"
    table = rows(kubectl("get", "cronjob", "tick"))
    assert table[1][8:10] == ["0", "10s"], "no run active; the last one was scheduled 10 s ago"
    assert kubectl("create", "job", "manual", "--from=cronjob/tick") == "job.batch/manual created\n"
    annotations = kubectl("get", "job", "manual", "-o", "jsonpath={.metadata.annotations}")
    assert '"cronjob.kubernetes.io/instantiate":"manual"' in annotations


# ------------------------------------------------------------------------------------------------ quiet horizon
def _everything(engine: Engine) -> None:
    from test_sim_statefulsets import daemonset, statefulset

    for manifest in (statefulset(), daemonset(), job("crash", backoffLimit=3), job("serve", name="slow",
                                                                                   activeDeadlineSeconds=45),
                     job(name="later", ttlSecondsAfterFinished=70), cronjob("*/3 * * * *", concurrencyPolicy="Forbid",
                                                                          behaviour="serve")):
        create(engine, manifest)


@pytest.mark.parametrize("steps", [[5.0] * 60, [1, 2.5, 0.5, 13, 7, 3, 29, 0, 61, 4.25, 300, 17, 2] * 2, [4000.0]],
                         ids=["polls", "irregular", "one-jump"])
def test_skipping_idle_reconciles_changes_nothing_for_these_controllers(steps: list[float]):
    from test_sim_quiet import eager, state

    lazy, reference = Engine(seed=5, runner=FakeRuntime()), eager(Engine(seed=5, runner=FakeRuntime()))
    for engine in (lazy, reference):
        _everything(engine)
    for i, seconds in enumerate(steps):
        for engine in (lazy, reference):
            with engine.lock:
                engine.advance(seconds)
        assert state(lazy) == state(reference), f"states differ after step {i} (+{seconds}s)"
