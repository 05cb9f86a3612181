"""The flag table the parser reads is kubectl's own: regenerated from the installed binary, it is the shipped one."""

from __future__ import annotations

import json

import pytest

from opsgym.cluster.flagtable import TABLE_COMMANDS, TABLE_PATH, dumps, generate
from opsgym.cluster.kubectl import ALLOWED_FLAGS, CLASSES, DENIED_FLAGS, find_kubectl
from opsgym.cluster.pflag import table

SHIPPED = json.loads(TABLE_PATH.read_text(encoding="utf-8"))


def test_the_shipped_table_is_what_the_installed_kubectl_says():
    binary = find_kubectl()
    if binary is None:
        pytest.skip("kubectl is not installed: the shipped table cannot be checked against it")
    fresh = generate(binary)
    assert fresh == SHIPPED, (f"kubectl_flags.json was made from {SHIPPED['kubectl']!r}, the installed kubectl is "
                              f"{fresh['kubectl']!r}: run `python -m opsgym.cluster.flagtable --write`")


def test_the_file_is_in_its_canonical_form():
    assert TABLE_PATH.read_text(encoding="utf-8") == dumps(SHIPPED)


def test_every_command_the_policy_allows_is_in_the_table():
    assert set(CLASSES) <= set(TABLE_COMMANDS) and set(CLASSES) <= set(table().commands)


def test_the_policy_names_flags_kubectl_has():
    known = set(SHIPPED["global"]) | {f for spec in SHIPPED["commands"].values() for f in spec["flags"]}
    assert ALLOWED_FLAGS <= known
    assert {"kubeconfig", "server", "token", "as", "v", "cache-dir", "profile-output"} <= DENIED_FLAGS & known


@pytest.mark.parametrize("path, name, kind", [
    ("get", "all-namespaces", "bool"), ("get", "output", "value"), ("delete", "dry-run", "optional"),
    ("delete", "cascade", "optional"), ("logs", "previous", "bool"), ("patch", "patch", "value"),
])
def test_what_the_parser_depends_on_is_recorded(path, name, kind):
    assert table().commands[path].flags[name].kind == kind
