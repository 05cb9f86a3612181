"""throttle: token-bucket rate limiting for API gateways and job runners.

Time is injected (any zero-argument callable returning seconds), so limiters are
deterministic under test and can share a clock with the caller.
"""

from throttle.bucket import TokenBucket
from throttle.limiter import Decision, KeyedLimiter

__all__ = ["Decision", "KeyedLimiter", "TokenBucket"]
__version__ = "2.1.0"
