"""Individual checks on one container. Each rule yields findings and never raises."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from kubecheck.findings import Finding, Severity
from kubecheck.quantity import QuantityError, parse_quantity, to_int

Rule = Callable[[dict[str, Any], str], Iterator[Finding]]

__all__ = ["ALL_RULES", "Rule", "image_tag", "limits_not_below_requests", "probes_present", "resources_declared"]


def image_tag(container: dict[str, Any], path: str) -> Iterator[Finding]:
    """An image without a tag, or tagged ``latest``, makes rollouts irreproducible."""
    image = container.get("image", "")
    if "@sha256:" in image:
        return
    name, _, tag = image.rpartition(":")
    if not name or "/" in tag or tag == "latest":
        yield Finding(f"{path}.image", "image-tag", Severity.WARNING, f"image {image!r} is not pinned to a tag")


def probes_present(container: dict[str, Any], path: str) -> Iterator[Finding]:
    """Without a readiness probe, traffic reaches pods that are still starting."""
    for probe in ("readinessProbe", "livenessProbe"):
        if probe not in container:
            yield Finding(f"{path}.{probe}", "probes", Severity.WARNING, f"container has no {probe}")


def resources_declared(container: dict[str, Any], path: str) -> Iterator[Finding]:
    """Requests drive scheduling and every quantity must parse, or the API server rejects the pod."""
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    for resource in ("cpu", "memory"):
        if resource not in requests:
            yield Finding(
                f"{path}.resources.requests", "resources", Severity.WARNING, f"no {resource} request declared"
            )
    for section in ("requests", "limits"):
        for resource, value in (resources.get(section) or {}).items():
            try:
                parse_quantity(value)
            except QuantityError as exc:
                yield Finding(f"{path}.resources.{section}.{resource}", "quantity", Severity.ERROR, str(exc))


def limits_not_below_requests(container: dict[str, Any], path: str) -> Iterator[Finding]:
    """A limit below its request is rejected by the API server at admission time."""
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    for resource in sorted(set(requests) & set(limits)):
        try:
            request, limit = to_int(requests[resource]), to_int(limits[resource])
        except QuantityError:
            continue  # reported by resources_declared
        if limit < request:
            yield Finding(
                f"{path}.resources.limits.{resource}",
                "limits",
                Severity.ERROR,
                f"{resource} limit {limits[resource]} is below the request {requests[resource]}",
            )


ALL_RULES: tuple[Rule, ...] = (image_tag, probes_present, resources_declared, limits_not_below_requests)
