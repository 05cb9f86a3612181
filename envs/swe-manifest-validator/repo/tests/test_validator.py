import copy

import pytest

from kubecheck import Severity, validate, validate_all

CONTAINER = {
    "name": "web",
    "image": "registry.example.com/shop/web:1.8.2",
    "readinessProbe": {"httpGet": {"path": "/ready", "port": 8080}},
    "livenessProbe": {"httpGet": {"path": "/live", "port": 8080}},
    "resources": {
        "requests": {"cpu": "250m", "memory": "256Mi"},
        "limits": {"cpu": "1", "memory": "512Mi"},
    },
}


def deployment(**overrides):
    container = copy.deepcopy(CONTAINER)
    container.update(overrides)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": {"template": {"spec": {"containers": [container]}}},
    }


def rules_of(findings):
    return sorted(f.rule for f in findings)


def test_clean_deployment_has_no_findings():
    assert validate(deployment()) == []


def test_missing_probes_are_warnings():
    manifest = deployment()
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    del container["readinessProbe"], container["livenessProbe"]
    findings = validate(manifest)
    assert rules_of(findings) == ["probes", "probes"]
    assert {f.severity for f in findings} == {Severity.WARNING}
    assert findings[0].path == "spec.template.spec.containers[0].livenessProbe"


def test_init_containers_need_no_probes():
    manifest = deployment()
    manifest["spec"]["template"]["spec"]["initContainers"] = [
        {
            "name": "migrate",
            "image": "registry.example.com/shop/migrate:1.8.2",
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
        }
    ]
    assert validate(manifest) == []


@pytest.mark.parametrize("image", ["nginx", "nginx:latest", "registry:5000/nginx"])
def test_unpinned_images_are_reported(image):
    assert rules_of(validate(deployment(image=image))) == ["image-tag"]


def test_digest_pinned_image_is_fine():
    assert validate(deployment(image="nginx@sha256:" + "a" * 64)) == []


def test_memory_limit_below_request_is_an_error():
    manifest = deployment(resources={"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "512Mi"}})
    findings = validate(manifest)
    assert rules_of(findings) == ["limits"]
    assert findings[0].severity is Severity.ERROR
    assert findings[0].path.endswith("resources.limits.memory")


def test_cpu_limit_below_request_in_whole_cores():
    manifest = deployment(resources={"requests": {"cpu": 4, "memory": "1Gi"}, "limits": {"cpu": "2"}})
    assert rules_of(validate(manifest)) == ["limits"]


def test_limit_equal_to_request_in_other_units_is_fine():
    manifest = deployment(
        resources={"requests": {"cpu": "1000m", "memory": "1024Mi"}, "limits": {"cpu": 1, "memory": "1Gi"}}
    )
    assert validate(manifest) == []


def test_invalid_quantity_is_reported_once():
    manifest = deployment(resources={"requests": {"cpu": "1 core", "memory": "1Gi"}, "limits": {"cpu": "2"}})
    findings = validate(manifest)
    assert rules_of(findings) == ["quantity"]
    assert "1 core" in findings[0].message


def test_missing_requests_are_reported():
    manifest = deployment(resources={})
    assert [f.message for f in validate(manifest)] == ["no cpu request declared", "no memory request declared"]


def test_cronjob_containers_are_found():
    pod = deployment()["spec"]["template"]
    manifest = {"kind": "CronJob", "metadata": {"name": "report"}, "spec": {"jobTemplate": {"spec": {"template": pod}}}}
    pod["spec"]["containers"][0]["image"] = "report:latest"
    findings = validate(manifest)
    assert [f.path for f in findings] == ["spec.jobTemplate.spec.template.spec.containers[0].image"]


def test_validate_all_keys_by_kind_and_name():
    service = {"kind": "Service", "metadata": {"name": "web"}, "spec": {"ports": [{"port": 80}]}}
    report = validate_all([deployment(), None, service])
    assert report == {"Deployment/web": [], "Service/web": []}


def test_non_object_is_an_error():
    assert rules_of(validate({"metadata": {}})) == ["manifest"]
