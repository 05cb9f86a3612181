"""Field paths: how faults, noise and checks name a field of a manifest."""

from __future__ import annotations

import pytest

from opsgym.errors import TaskSpecError
from opsgym.sre.paths import get_path, parse_path, remove_path, set_path


def deployment() -> dict:
    return {"metadata": {"name": "cart", "annotations": {}},
            "spec": {"template": {"spec": {"containers": [
                {"name": "cart", "env": [{"name": "KV_ADDR", "value": "kv:6379"}],
                 "resources": {"limits": {"memory": "128Mi"}}}]}}},
            "data": {"kv.conf": "x"}}


def test_paths_split_into_keys_indexes_and_selectors():
    assert parse_path('spec.containers[name=cart].env[0]["a.b"]') == ["spec", "containers", ("name", "cart"), "env",
                                                                      0, "a.b"]


@pytest.mark.parametrize("path, value", [
    ("spec.template.spec.containers[name=cart].env[name=KV_ADDR].value", "kv:6379"),
    ("spec.template.spec.containers[0].resources.limits.memory", "128Mi"),
    ('data["kv.conf"]', "x"),
    ("spec.template.spec.containers[name=nope].env", None),
    ("metadata.name.deeper", None),
])
def test_get_reads_nested_fields(path, value):
    assert get_path(deployment(), path) == value


def test_set_creates_named_list_items_and_mappings():
    obj = deployment()
    set_path(obj, "spec.template.spec.containers[name=cart].env[name=LOG_LEVEL].value", "debug")
    set_path(obj, 'metadata.annotations["kubernetes.io/change-cause"]', "tuning")
    set_path(obj, "metadata.labels.team", "shop")
    env = obj["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[-1] == {"name": "LOG_LEVEL", "value": "debug"}
    assert obj["metadata"]["annotations"] == {"kubernetes.io/change-cause": "tuning"}
    assert obj["metadata"]["labels"] == {"team": "shop"}


def test_remove_deletes_keys_and_list_items():
    obj = deployment()
    assert remove_path(obj, "spec.template.spec.containers[name=cart].env[name=KV_ADDR]")
    assert obj["spec"]["template"]["spec"]["containers"][0]["env"] == []
    assert remove_path(obj, "spec.template.spec.containers[0].resources.limits.memory")
    assert not remove_path(obj, "spec.template.spec.containers[0].resources.limits.memory")


@pytest.mark.parametrize("path", ["", "spec[", "metadata.name.x"])
def test_bad_paths_are_task_errors(path):
    with pytest.raises(TaskSpecError):
        set_path(deployment(), path, 1)
