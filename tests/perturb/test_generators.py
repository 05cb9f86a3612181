"""Built-in perturbations: seeded, deterministic, presentation-only (the facts survive), composable."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from opsgym import plugins
from opsgym.perturb.base import Perturbation
from opsgym.perturb.text import parse_log_line
from opsgym.runtime.opsgym_runtime import format_line

SHOP = Path(__file__).resolve().parents[2] / "envs" / "_apps" / "shop" / "manifests"
NAMES = ["schema-change", "reorder-fields", "rename-labels", "log-format", "unit-change", "noise"]


def logs(fmt: str = "json") -> str:
    return "\n".join(format_line(fmt, 1700000000 + i, lvl, "checkout", msg, fields) for i, (lvl, msg, fields) in
                     enumerate([("info", "checkout starting", {"timeout_ms": 2500, "retry_policy": "exponential"}),
                                ("error", "dependency unreachable", {"dependency": "payment", "addr": "payment:8080"}),
                                ("info", "allocated", {"what": "2 order workers", "memory_bytes": 25165824})]))


def make(name: str, seed: int = 0) -> Perturbation:
    p = plugins.create("perturbation", name)
    p.reset(seed)
    return p


def shop_objects() -> list[dict]:
    return [doc for f in sorted(SHOP.glob("*.yaml")) for doc in yaml.safe_load_all(f.read_text()) if doc]


@pytest.mark.parametrize("name", NAMES)
def test_every_builtin_is_registered_and_meets_the_protocol(name):
    assert isinstance(make(name), Perturbation)
    assert plugins.get("perturbation", name).package == "opsgym"


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_output_in_a_fresh_instance(name):
    text = logs() + "\n" + logs("logfmt")
    assert make(name, 7).observation(text) == make(name, 7).observation(text)
    objects = shop_objects() if SHOP.is_dir() else []
    assert make(name, 7).scenario(copy.deepcopy(objects)) == make(name, 7).scenario(copy.deepcopy(objects))


@pytest.mark.parametrize("name", ["schema-change", "reorder-fields", "log-format", "unit-change", "noise"])
def test_log_perturbations_change_what_the_agent_sees_but_not_the_values(name):
    text = logs("json")
    changed = [seed for seed in range(6) if make(name, seed).observation(text) != text]
    assert changed, f"{name} never changed the logs"
    out = make(name, changed[0]).observation(text)
    values = {str(v) for line in text.splitlines() for v in parse_log_line(line).fields.values()}
    seen = {str(v) for line in out.splitlines() for v in parse_log_line(line).fields.values()}
    if name == "unit-change":  # the numbers are converted, everything else stays
        values = {v for v in values if v not in ("2500", "25165824")}
    assert values <= seen


def test_schema_change_renames_the_fields_a_brittle_parser_greps_for():
    out = make("schema-change").observation(logs("json"))
    assert '"level"' not in out and '"msg"' not in out and '"dependency"' not in out
    assert '"payment"' in out and "dependency unreachable" in out


def test_reorder_fields_keeps_the_same_fields():
    original = parse_log_line(logs("logfmt").splitlines()[1]).fields
    moved = [parse_log_line(make("reorder-fields", s).observation(logs("logfmt")).splitlines()[1]).fields
             for s in range(5)]
    assert all(m == original for m in moved) and any(list(m) != list(original) for m in moved)


def test_unit_change_converts_value_and_name_together():
    out = make("unit-change").observation(logs("logfmt"))
    assert "timeout_s=2.5" in out and "timeout_ms" not in out
    assert "memory_bytes" not in out and ("memory_mib=24" in out or "memory_kib=24576" in out)


def test_noise_adds_benign_lines_and_keeps_every_real_one_in_order():
    text = logs("plain")
    out = make("noise", 3).observation(text).splitlines()
    it = iter(out)
    assert all(line in it for line in text.splitlines())  # a subsequence
    assert len(out) > len(text.splitlines())


def test_noise_adds_a_row_to_an_event_listing():
    events = ("LAST SEEN   TYPE      REASON    OBJECT                 MESSAGE\n"
              "2m          Warning   BackOff   pod/checkout-abc-123   Back-off restarting failed container")
    out = make("noise").observation(events).splitlines()
    assert len(out) == 3 and out[0] == events.splitlines()[0] and events.splitlines()[1] in out


def test_text_without_logs_passes_through():
    table = "NAME       READY   STATUS    RESTARTS   AGE\ncheckout   1/1     Running   0          5m"
    for name in NAMES:
        assert make(name).observation(table) == table


@pytest.mark.skipif(not SHOP.is_dir(), reason="the shop app's manifests are not in this checkout")
def test_log_format_sets_the_services_log_format_env_var():
    objects = shop_objects()
    before = copy.deepcopy(objects)
    p = make("log-format", 1)
    out = p.scenario(objects)
    assert objects == before  # the input is not modified
    containers = [c for o in out if o["kind"] == "Deployment" for c in o["spec"]["template"]["spec"]["containers"]]
    assert containers and all({"name": "LOG_FORMAT", "value": p.target} in c["env"] for c in containers)
    for new, old in zip(out, before, strict=True):  # nothing else changes
        if new["kind"] != "Deployment":
            assert new == old


@pytest.mark.skipif(not SHOP.is_dir(), reason="the shop app's manifests are not in this checkout")
def test_rename_labels_renames_consistently_so_selectors_still_select():
    objects = shop_objects()
    p = make("rename-labels", 2)
    out = p.scenario(objects)
    assert "app" in p.mapping and p.mapping["app"] not in ("app",)
    deployments = {o["metadata"]["name"]: o for o in out if o["kind"] == "Deployment"}
    for svc in (o for o in out if o["kind"] == "Service"):
        selector = svc["spec"]["selector"]
        assert "app" not in selector
        target = deployments.get(svc["metadata"]["name"])
        if target is not None:
            labels = target["spec"]["template"]["metadata"]["labels"]
            assert selector.items() <= labels.items()
            assert target["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for new, old in zip(out, objects, strict=True):  # no two labels merged
        assert len(new["metadata"].get("labels", {})) == len(old["metadata"].get("labels", {}))


def test_composition_applies_each_in_turn():
    text = logs("json")
    both = make("schema-change", 4).observation(make("reorder-fields", 4).observation(text))
    assert both != text and '"level"' not in both
