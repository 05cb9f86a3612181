"""The end-state checks that only the real fix passes: the workload as loaded except the repaired fields, settings
the program accepts, and the shop's request flowing through the faulty service to its real dependencies.

Any valid fix passes where the task allows one (another value the program accepts, the right Service spelled another
way, another bounded memory limit); a different invalid value, another dependency or another program never does.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sre_episodes import failed, play, solution

from opsgym.errors import ClusterApiError
from opsgym.sre.checks import ClusterView
from opsgym.sre.endstate import repair_checks
from opsgym.sre.flow import real_request

ALTERNATIVES = {"MAX_ITEMS": "80", "SESSION_TTL": "45m", "PAGE_SIZE": "48", "CURRENCY": "EUR",
                "RETRY_POLICY": "linear", "TIMEOUT_MS": "3000", "PROVIDER": "adyen-sim", "MAX_AMOUNT": "2500",
                "DEFAULT_CARRIER": "ups", "WORKERS": "8", "THEME": "dark"}
"""Another value each SRE-1 key's program accepts (the task's good_value is one of many)."""


def set_key(v: dict[str, Any], value: str | None) -> list[str]:
    patch = json.dumps({"data": {v["key"]: value}})
    return [f"kubectl patch configmap {v['service']}-config -n {v['namespace']} --type merge -p '{patch}'",
            f"kubectl rollout restart deployment/{v['service']} -n {v['namespace']}"]


def set_env(v: dict[str, Any], value: str) -> list[str]:
    return [f"kubectl set env deployment/{v['service']} -n {v['namespace']} {v['env_name']}={value}"]


def remediation(evaluation) -> tuple[float, set[str]]:
    return evaluation.remediation_correct, failed(evaluation)


@pytest.mark.parametrize("task_id", ["SRE-1", "SRE-2", "SRE-3"])
@pytest.mark.parametrize("seed", [0, 1])
def test_the_request_flow_fails_for_each_fault_and_passes_after_the_fix(scenarios, task_id, seed):
    scenario = scenarios[task_id]
    _, v = scenario.reset(seed)
    broken = scenario.evaluate()
    assert {f"{v['service']}-answers-requests", "shop-request-flow"} <= failed(broken)
    play(scenario, solution(task_id, v))
    fixed = scenario.evaluate()
    assert remediation(fixed) == (1.0, set()), fixed.checks
    assert "answered by every service" in next(c.detail for c in fixed.checks if c.name == "shop-request-flow")


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_sre1_any_value_the_program_accepts_passes(scenarios, seed):
    scenario = scenarios["SRE-1"]
    _, v = scenario.reset(seed)
    play(scenario, set_key(v, ALTERNATIVES[v["key"]]))
    assert remediation(scenario.evaluate()) == (1.0, set())


def test_sre1_removing_the_key_lets_the_programs_default_apply(scenarios):
    scenario = scenarios["SRE-1"]
    _, v = scenario.reset(2)
    play(scenario, set_key(v, None))
    assert remediation(scenario.evaluate()) == (1.0, set())


@pytest.mark.parametrize("seed", [0, 4])
def test_sre1_another_invalid_value_fails_on_the_programs_own_validation(scenarios, seed):
    scenario = scenarios["SRE-1"]
    _, v = scenario.reset(seed)
    play(scenario, set_key(v, v["bad_value"] + "s"))
    correct, problems = remediation(scenario.evaluate())
    assert correct == 0.0 and {f"{v['service']}-settings-accepted", f"{v['service']}-answers-requests"} <= problems


@pytest.mark.parametrize("spelling", ["{host}.{namespace}:{port}", "{host}.{namespace}.svc:{port}",
                                      "{host}.{namespace}.svc.cluster.local:{port}"])
def test_sre2_the_right_service_in_any_spelling_the_program_accepts_passes(scenarios, spelling):
    scenario = scenarios["SRE-2"]
    _, v = scenario.reset(5)
    host, _, port = v["good_addr"].partition(":")
    play(scenario, set_env(v, spelling.format(host=host, namespace=v["namespace"], port=port)))
    assert remediation(scenario.evaluate()) == (1.0, set())


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 5])
@pytest.mark.parametrize("wrong", ["kv:6379", "payment:8080", "frontend:8080"])
def test_sre2_an_address_that_reaches_another_service_fails(scenarios, seed, wrong):
    scenario = scenarios["SRE-2"]
    _, v = scenario.reset(seed)
    if wrong == v["good_addr"] or wrong.startswith(v["service"] + ":"):
        pytest.skip("that address is the fix (or the service itself) for this seed")
    play(scenario, set_env(v, wrong))
    correct, problems = remediation(scenario.evaluate())
    assert correct == 0.0 and f"{v['service']}-answers-requests" in problems


@pytest.mark.parametrize("limit", ["256Mi", "1Gi", "2Gi"])
def test_sre3_any_bounded_limit_the_program_fits_in_passes(scenarios, limit):
    scenario = scenarios["SRE-3"]
    _, v = scenario.reset(1)
    play(scenario, [f"kubectl set resources deployment/{v['service']} -n {v['namespace']} -c {v['service']} "
                    f"--limits=memory={limit} --requests=memory=32Mi"])
    assert remediation(scenario.evaluate()) == (1.0, set())


SNEAKY = {
    "another program": "kubectl patch deployment {service} -n {namespace} --type json -p '[{{\"op\": \"replace\", "
                       "\"path\": \"/spec/template/spec/containers/0/command\", \"value\": [\"python\", "
                       "\"/app/shipping.py\"]}}]'",
    "another image": "kubectl set image deployment/{service} -n {namespace} {service}=python:3.13-slim",
    "an extra variable": "kubectl set env deployment/{service} -n {namespace} STRICT_DEPENDENCIES=false",
    "arguments added": "kubectl patch deployment {service} -n {namespace} --type json -p '[{{\"op\": \"add\", "
                       "\"path\": \"/spec/template/spec/containers/0/args\", \"value\": [\"--quiet\"]}}]'",
    "a changed neighbour key": "kubectl patch configmap {service}-config -n {namespace} --type merge "
                               "-p '{{\"data\": {{\"LOG_NOTE\": \"x\"}}}}'",
}


@pytest.mark.parametrize("task_id", ["SRE-1", "SRE-2", "SRE-3"])
@pytest.mark.parametrize("change", sorted(SNEAKY))
def test_a_fix_plus_any_other_change_to_the_workload_does_not_count(scenarios, task_id, change):
    scenario = scenarios[task_id]
    _, v = scenario.reset(3)
    play(scenario, [*solution(task_id, v), SNEAKY[change].format(**v)])
    correct, problems = remediation(scenario.evaluate())
    assert correct == 0.0 and f"{v['service']}-unchanged-but-repaired" in problems


class ProxyRefusing:
    """A reader whose service proxy fails, as a real cluster's does when the storefront does not answer."""

    def __init__(self, reader: Any) -> None:
        self.reader, self.asked = reader, []

    def get(self, path: str) -> dict[str, Any] | None:
        if "/proxy/" in path:
            self.asked.append(path)
            raise ClusterApiError(f"GET {path} answered 503: no endpoints available", 503)
        return self.reader.get(path)


def test_on_real_backends_the_real_storefront_is_asked_through_the_service_proxy(scenarios):
    scenario = scenarios["SRE-2"]
    _, v = scenario.reset(6)
    play(scenario, solution("SRE-2", v))
    scenario.evaluate()
    reader = ProxyRefusing(scenario.backend.reader())
    checks = {c.name: c for c in repair_checks(ClusterView(reader), scenario.baseline, scenario.episode, real=True)}
    assert reader.asked == [f"/api/v1/namespaces/{v['namespace']}/services/frontend:8080/proxy/order"]
    assert not checks["shop-request-flow"].passed and "real: 503" in checks["shop-request-flow"].detail
    assert checks[f"{v['service']}-answers-requests"].passed  # the simulated flow still judges the repair


def test_a_real_answer_names_every_service_that_answered():
    body = {"service": "frontend", "calls": {"cart": {"service": "cart", "calls": {"kv": {"service": "kv"}}}}}

    class Answering:
        def get(self, path: str) -> dict[str, Any]:
            return body

    result = real_request(Answering(), "shop", "frontend", 8080, "/order")
    assert result.status == 200 and result.services == {"frontend", "cart", "kv"}
