"""Strategic merge patch, JSON merge patch and JSON patch as the API server applies them."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opsgym.cluster.sim.patch import apply_patch, json_merge_patch, strategic_merge_patch
from opsgym.cluster.sim.status import ApiError

POD = {"spec": {
    "containers": [
        {"name": "app", "image": "app:1", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
         "ports": [{"containerPort": 8080, "name": "http"}], "args": ["--a", "--b"]},
        {"name": "sidecar", "image": "proxy:1"}],
    "volumes": [{"name": "cfg", "configMap": {"name": "c"}}]},
    "metadata": {"finalizers": ["a"], "labels": {"x": "1", "y": "2"}}}


def test_containers_merge_by_name_and_keep_the_rest():
    out = strategic_merge_patch(POD, {"spec": {"containers": [{"name": "app", "image": "app:2"}]}})
    assert [c["image"] for c in out["spec"]["containers"]] == ["app:2", "proxy:1"]
    assert out["spec"]["containers"][0]["env"] == POD["spec"]["containers"][0]["env"]
    assert POD["spec"]["containers"][0]["image"] == "app:1", "the original is untouched"


def test_env_merges_by_name_with_nulls_and_delete_directives():
    patch = {"spec": {"containers": [{"name": "app", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"},
                                                              {"name": "A", "$patch": "delete"}]}]}}
    env = strategic_merge_patch(POD, patch)["spec"]["containers"][0]["env"]
    assert env == [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}]
    out = strategic_merge_patch(POD, {"metadata": {"labels": {"x": None}}})
    assert out["metadata"]["labels"] == {"y": "2"}


def test_set_element_order_and_lists_without_a_merge_key():
    patch = {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
                      "containers": [{"name": "app", "args": ["--c"]}]}}
    out = strategic_merge_patch(POD, patch)
    assert [c["name"] for c in out["spec"]["containers"]] == ["sidecar", "app"]
    assert out["spec"]["containers"][1]["args"] == ["--c"], "args has no merge key: replaced"


def test_ports_merge_on_container_port_in_pods_and_on_port_in_services():
    out = strategic_merge_patch(POD, {"spec": {"containers": [{"name": "app", "ports": [
        {"containerPort": 8080, "name": "web"}, {"containerPort": 9090}]}]}})
    assert out["spec"]["containers"][0]["ports"] == [{"containerPort": 8080, "name": "web"}, {"containerPort": 9090}]
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}]}}
    out = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9000}]}})
    assert out["spec"]["ports"] == [{"port": 80, "targetPort": 9000}, {"port": 443, "targetPort": 8443}]


def test_replace_retain_keys_and_primitive_list_directives():
    out = strategic_merge_patch(POD, {"spec": {"volumes": [{"$patch": "replace"}, {"name": "new", "emptyDir": {}}]}})
    assert out["spec"]["volumes"] == [{"name": "new", "emptyDir": {}}]
    out = strategic_merge_patch(POD, {"metadata": {"labels": {"$patch": "replace", "z": "3"}}})
    assert out["metadata"]["labels"] == {"z": "3"}
    out = strategic_merge_patch({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}},
                                {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}})
    assert out == {"strategy": {"type": "Recreate"}}
    out = strategic_merge_patch(POD, {"metadata": {"finalizers": ["b", "a"]}})
    assert out["metadata"]["finalizers"] == ["a", "b"], "finalizers merge as a set"
    out = strategic_merge_patch(POD, {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}})
    assert out["metadata"]["finalizers"] == []


def test_malformed_patches_are_bad_requests():
    with pytest.raises(ApiError) as err:
        strategic_merge_patch(POD, {"spec": {"containers": [{"image": "no-name"}]}})
    assert err.value.code == 400 and "does not contain declared merge key: name" in err.value.message
    with pytest.raises(ApiError) as err:
        apply_patch("strategic", POD, ["not", "a", "map"])
    assert err.value.code == 400


def test_json_patch_and_its_failures():
    out = apply_patch("json", POD, [{"op": "replace", "path": "/spec/containers/1/image", "value": "proxy:2"},
                                    {"op": "add", "path": "/metadata/labels/z", "value": "3"}])
    assert out["spec"]["containers"][1]["image"] == "proxy:2" and out["metadata"]["labels"]["z"] == "3"
    for bad in ([{"op": "remove", "path": "/spec/nope"}], [{"op": "test", "path": "/metadata/labels/x", "value": "9"}],
                [{"op": "frobnicate", "path": "/x"}], {"op": "add"}):
        with pytest.raises(ApiError) as err:
            apply_patch("json", POD, bad)
        assert err.value.code in (400, 422)


def test_merge_patch_replaces_lists():
    out = apply_patch("merge", POD, {"spec": {"containers": [{"name": "only"}]}})
    assert out["spec"]["containers"] == [{"name": "only"}]


# ---------------------------------------------------------------------------------------------------- properties
keys = st.sampled_from(["a", "b", "c", "d", "image", "value"])
scalars = st.one_of(st.integers(-5, 5), st.text(alphabet="xyz", max_size=3), st.booleans())
maps = st.recursive(st.dictionaries(keys, scalars, max_size=4),
                    lambda inner: st.dictionaries(keys, st.one_of(scalars, inner), max_size=4), max_leaves=12)
patches = st.recursive(st.dictionaries(keys, st.one_of(scalars, st.none()), max_size=4),
                       lambda inner: st.dictionaries(keys, st.one_of(scalars, st.none(), inner), max_size=4),
                       max_leaves=12)
names = st.lists(st.sampled_from(["web", "api", "db", "cache", "worker"]), unique=True, max_size=5)


def containers(names_: list[str], tag: str) -> list[dict]:
    return [{"name": n, "image": f"{n}:{tag}", "env": [{"name": "N", "value": n}]} for n in names_]


@settings(max_examples=80, deadline=None)
@given(maps, patches)
def test_without_lists_strategic_merge_equals_json_merge(doc, patch):
    assert strategic_merge_patch(doc, patch) == json_merge_patch(copy.deepcopy(doc), patch)


@settings(max_examples=80, deadline=None)
@given(names, names)
def test_named_lists_merge_by_key(old, new):
    doc = {"spec": {"containers": containers(old, "1")}}
    out = strategic_merge_patch(doc, {"spec": {"containers": [{"name": n, "image": f"{n}:2"} for n in new]}})
    result = {c["name"]: c for c in out["spec"]["containers"]}
    assert list(result) == old + [n for n in new if n not in old], "existing order kept, new names appended"
    for name, container in result.items():
        assert container["image"] == f"{name}:{2 if name in new else 1}"
        if name in old:
            assert container["env"] == [{"name": "N", "value": name}], "unpatched fields survive"


@settings(max_examples=80, deadline=None)
@given(names, names)
def test_strategic_patches_are_idempotent(old, new):
    doc = {"spec": {"containers": containers(old, "1")}}
    patch = {"spec": {"containers": [{"name": n, "image": f"{n}:2", "env": [{"name": "X", "value": "1"}]}
                                     for n in new]}, "metadata": {"finalizers": ["f"]}}
    once = strategic_merge_patch(doc, patch)
    assert strategic_merge_patch(once, patch) == once


@settings(max_examples=80, deadline=None)
@given(names, st.data())
def test_delete_directive_removes_exactly_that_element(old, data):
    if not old:
        return
    victim = data.draw(st.sampled_from(old))
    out = strategic_merge_patch({"spec": {"containers": containers(old, "1")}},
                                {"spec": {"containers": [{"name": victim, "$patch": "delete"}]}})
    assert [c["name"] for c in out["spec"]["containers"]] == [n for n in old if n != victim]


@settings(max_examples=80, deadline=None)
@given(names, st.randoms(use_true_random=False))
def test_set_element_order_orders_the_result(old, rnd):
    order = list(old)
    rnd.shuffle(order)
    out = strategic_merge_patch({"spec": {"containers": containers(old, "1")}},
                                {"spec": {"$setElementOrder/containers": [{"name": n} for n in order]}})
    assert [c["name"] for c in out["spec"]["containers"]] == order
