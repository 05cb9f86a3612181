"""The store's cached listings and owner index: always what a fresh scan would give, private to each caller,
and right again after a snapshot is restored; ``revised`` objects leave the stored version untouched."""

from __future__ import annotations

from opsgym.cluster.sim.store import Store, revised


def pod(name: str, namespace: str = "ns", owners: list[dict] | None = None) -> dict:
    meta = {"name": name, "namespace": namespace} | ({"ownerReferences": owners} if owners is not None else {})
    return {"kind": "Pod", "apiVersion": "v1", "metadata": meta, "spec": {"containers": [{"name": "c"}]}}


def ref(uid: str, controller: bool = True) -> dict:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": uid, "uid": uid, "controller": controller}


def names(objects: list[dict]) -> list[str]:
    return [o["metadata"]["name"] for o in objects]


def test_listings_follow_every_write_and_restore():
    store = Store()
    store.put("pods", pod("b"))
    store.put("pods", pod("a"))
    store.put("pods", pod("z", "other"))
    assert names(store.items("pods", "ns")) == ["a", "b"] and names(store.items("pods")) == ["a", "b", "z"]
    snap = store.snapshot()
    store.remove("pods", "ns", "a")
    store.put("pods", pod("c"))
    assert names(store.items("pods", "ns")) == ["b", "c"]
    store.restore(snap)
    assert names(store.items("pods", "ns")) == ["a", "b"]
    listing = store.items("pods", "ns")
    listing.clear()
    assert names(store.items("pods", "ns")) == ["a", "b"], "callers get their own list"


def test_the_owner_index_holds_controller_references_only():
    store = Store()
    store.put("pods", pod("p1", owners=[ref("rs-1")]))
    store.put("pods", pod("p2", owners=[ref("rs-1", controller=False), ref("rs-2")]))
    store.put("pods", pod("p3", owners=[ref("rs-1")]))
    store.put("pods", pod("p4", "other", owners=[ref("rs-1")]))
    assert names(store.owned("pods", "ns", "rs-1")) == ["p1", "p3"]
    assert names(store.owned("pods", "ns", "rs-2")) == ["p2"] and store.owned("pods", "ns", "rs-9") == []
    store.put("pods", pod("p1", owners=[ref("rs-2")]))
    assert names(store.owned("pods", "ns", "rs-1")) == ["p3"] and names(store.owned("pods", "ns", "rs-2")) == ["p1",
                                                                                                              "p2"]


def test_a_revised_object_leaves_the_stored_version_as_it_was():
    store = Store()
    stored = store.put("pods", pod("p"))
    fresh = revised(stored, status={"phase": "Running"})
    store.put("pods", fresh)
    assert "status" not in stored and stored["metadata"]["resourceVersion"] == "1"
    assert store.get("pods", "ns", "p")["status"] == {"phase": "Running"}
    assert list(fresh) == ["kind", "apiVersion", "metadata", "spec", "status"], "key order as deepcopy + assignment"


def test_the_state_id_tells_apart_states_that_share_a_revision():
    store = Store()
    snap = store.snapshot()
    store.put("pods", pod("a"))
    first = store.state_id
    store.restore(snap)
    store.put("pods", pod("b"))
    assert store.revision == 1 and store.state_id != first
