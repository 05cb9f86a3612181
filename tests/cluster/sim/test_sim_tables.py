"""Server-side printing: kubectl's duration format and the columns of the real printers."""

from __future__ import annotations

import pytest

from opsgym.cluster.sim.clock import human_duration
from opsgym.cluster.sim.kinds import lookup
from opsgym.cluster.sim.tables import table


@pytest.mark.parametrize("seconds, text", [(-5, "<invalid>"), (-1, "0s"), (59, "59s"), (119, "119s"), (120, "2m"),
                                           (125, "2m5s"), (601, "10m"), (10799, "179m"), (10800, "3h"),
                                           (7 * 3600 + 60, "7h1m"), (20 * 3600, "20h"), (50 * 3600, "2d2h"),
                                           (10 * 86400, "10d"), (800 * 86400, "2y70d"), (9 * 365 * 86400, "9y")])
def test_human_duration_matches_kubectl(seconds, text):
    assert human_duration(seconds) == text


def row(plural: str, obj: dict, now: float = 100.0) -> dict[str, object]:
    result = table(lookup(plural), [obj], now, 1)
    return {c["name"]: cell for c, cell in zip(result["columnDefinitions"], result["rows"][0]["cells"], strict=True)}


META = {"name": "x", "creationTimestamp": "1970-01-01T00:00:00Z"}


def test_service_columns():
    svc = {"metadata": META, "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.9", "clusterIPs": ["10.96.0.9"],
                                      "ports": [{"port": 80, "nodePort": 30001, "protocol": "TCP"}],
                                      "selector": {"app": "x"}}, "status": {"loadBalancer": {}}}
    assert row("services", svc) == {"Name": "x", "Type": "LoadBalancer", "Cluster-IP": "10.96.0.9",
                                    "External-IP": "<pending>", "Port(s)": "80:30001/TCP", "Age": "100s",
                                    "Selector": "app=x"}


def test_event_columns_and_wide_priorities():
    event = {"metadata": {"name": "p.1"}, "involvedObject": {"kind": "Pod", "name": "p", "fieldPath": "spec.x"},
             "reason": "BackOff", "type": "Warning", "message": "Back-off ", "count": 4,
             "firstTimestamp": "1970-01-01T00:00:10Z", "lastTimestamp": "1970-01-01T00:01:30Z",
             "source": {"component": "kubelet", "host": "node-1"}}
    cells = row("events", event)
    assert cells == {"Last Seen": "10s", "Type": "Warning", "Reason": "BackOff", "Object": "pod/p",
                     "Subobject": "spec.x", "Source": "kubelet, node-1", "Message": "Back-off", "First Seen": "90s",
                     "Count": 4, "Name": "p.1"}
    priorities = {c["name"]: c["priority"] for c in table(lookup("events"), [], 0, 1)["columnDefinitions"]}
    assert [name for name, p in priorities.items() if p == 0] == ["Last Seen", "Type", "Reason", "Object", "Message"]


def test_rows_carry_object_metadata_or_the_object():
    obj = {"metadata": META, "data": {"a": "1"}}
    partial = table(lookup("configmaps"), [obj], 0, 7)
    assert partial["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
    assert partial["metadata"]["resourceVersion"] == "7"
    assert table(lookup("configmaps"), [obj], 0, 7, include="Object")["rows"][0]["object"] is obj
    assert "object" not in table(lookup("configmaps"), [obj], 0, 7, include="None")["rows"][0]
