"""Label selectors with Kubernetes' meaning, in both forms (``LabelSelector`` objects and query strings)."""

from __future__ import annotations

import itertools

import pytest

from opsgym.errors import SelectorError
from opsgym.k8s.selectors import Selector, matches_selector, selector_string

WEB = {"app": "web", "tier": "front", "env": "prod"}
DB = {"app": "db", "tier": "back", "env": "prod"}
CANARY = {"app": "web", "tier": "front", "env": "canary", "track": "canary"}
BARE: dict[str, str] = {}


def expr(key: str, operator: str, *values: str) -> dict:
    out: dict = {"key": key, "operator": operator}
    if values:
        out["values"] = list(values)
    return out


@pytest.mark.parametrize("selector, labels, expected", [
    ({"matchLabels": {"app": "web"}}, WEB, True),
    ({"matchLabels": {"app": "web"}}, DB, False),
    ({"matchExpressions": [expr("env", "In", "prod", "staging")]}, WEB, True),
    ({"matchExpressions": [expr("env", "In", "prod", "staging")]}, CANARY, False),
    ({"matchExpressions": [expr("env", "In", "prod")]}, BARE, False),
    ({"matchExpressions": [expr("env", "NotIn", "canary")]}, WEB, True),
    ({"matchExpressions": [expr("env", "NotIn", "canary")]}, CANARY, False),
    ({"matchExpressions": [expr("env", "NotIn", "canary")]}, BARE, True),  # NotIn matches a missing label
    ({"matchExpressions": [expr("track", "Exists")]}, CANARY, True),
    ({"matchExpressions": [expr("track", "Exists")]}, WEB, False),
    ({"matchExpressions": [expr("track", "DoesNotExist")]}, WEB, True),
    ({"matchExpressions": [expr("track", "DoesNotExist")]}, CANARY, False),
    # matchLabels AND every expression
    ({"matchLabels": {"app": "web"}, "matchExpressions": [expr("track", "DoesNotExist")]}, WEB, True),
    ({"matchLabels": {"app": "web"}, "matchExpressions": [expr("track", "DoesNotExist")]}, CANARY, False),
    ({"matchLabels": {"app": "db"}, "matchExpressions": [expr("track", "DoesNotExist")]}, WEB, False),
    ({"matchExpressions": [expr("app", "In", "web"), expr("env", "NotIn", "canary")]}, WEB, True),
    ({"matchExpressions": [expr("app", "In", "web"), expr("env", "NotIn", "canary")]}, CANARY, False),
    ({"matchExpressions": [expr("app", "Matches", "web")]}, WEB, False),  # an unknown operator selects nothing
    ({}, WEB, True), (None, BARE, True), ({"matchLabels": {}, "matchExpressions": []}, DB, True),  # empty: all
    ({"app": "web"}, WEB, True), ({"app": "web"}, DB, False),  # a Service's plain label map
])
def test_label_selector_objects(selector, labels, expected):
    assert matches_selector(selector, labels) is expected


@pytest.mark.parametrize("text, matching", [
    ("app=web", ["web", "canary"]),
    ("app==web,env=prod", ["web"]),
    ("app!=web", ["db", "bare"]),
    ("env in (prod, staging)", ["web", "db"]),
    ("env notin (prod)", ["canary", "bare"]),
    ("track", ["canary"]),
    ("!track", ["web", "db", "bare"]),
    ("app in (web),!track", ["web"]),
    ("", ["web", "db", "canary", "bare"]),
])
def test_selector_strings(text, matching):
    objects = {"web": WEB, "db": DB, "canary": CANARY, "bare": BARE}
    assert [name for name, labels in objects.items() if Selector.parse(text).matches(labels)] == matching


@pytest.mark.parametrize("text", ["app in web", "!app in (web)", "app=web=x", "=web", "app in (web", "a b"])
def test_malformed_selector_strings_are_refused_with_the_accepted_forms(text):
    with pytest.raises(SelectorError, match="unable to parse requirement"):
        Selector.parse(text)


def test_the_text_of_a_selector_object_selects_the_same_objects():
    """The string the API server prints for a LabelSelector (``-o wide``, Scale status) is a selector kubectl can
    send back with ``-l``: it must select exactly what the object does."""
    selector = {"matchLabels": {"tier": "front", "app": "web"},
                "matchExpressions": [expr("env", "NotIn", "canary", "dev"), expr("track", "DoesNotExist"),
                                     expr("zone", "Exists"), expr("size", "In", "s", "m")]}
    text = selector_string(selector)
    assert text == "app=web,tier=front,env notin (canary,dev),!track,zone,size in (m,s)"
    values = {"app": ["web", "db", None], "tier": ["front", None], "env": ["prod", "canary", None],
              "track": ["x", None], "zone": ["a", None], "size": ["s", "l", None]}
    for combo in itertools.product(*values.values()):
        labels = {k: v for k, v in zip(values, combo, strict=True) if v is not None}
        assert Selector.parse(text).matches(labels) == matches_selector(selector, labels), labels


def test_an_empty_selector_has_no_text():
    assert selector_string(None) == selector_string({}) == ""
