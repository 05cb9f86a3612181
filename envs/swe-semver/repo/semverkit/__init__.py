"""semverkit: parse, compare and match Semantic Versions (https://semver.org, 2.0.0).

Used by our release tooling to pick the newest chart or image tag that satisfies a
constraint such as ``>=1.4.0 <2.0.0`` or ``^1.4``.
"""

from semverkit.ranges import Range, max_satisfying, satisfies
from semverkit.version import InvalidVersion, Version, parse

__all__ = ["InvalidVersion", "Range", "Version", "max_satisfying", "parse", "satisfies"]
__version__ = "0.9.1"
