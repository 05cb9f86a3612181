"""kubecheck: lint Kubernetes workload manifests before they reach the cluster.

Manifests are plain dictionaries (as returned by ``yaml.safe_load``); the result is a list of
:class:`~kubecheck.findings.Finding` objects, sorted by path.
"""

from kubecheck.findings import Finding, Severity
from kubecheck.quantity import QuantityError, parse_quantity
from kubecheck.validator import validate, validate_all

__all__ = ["Finding", "QuantityError", "Severity", "parse_quantity", "validate", "validate_all"]
__version__ = "0.4.2"
