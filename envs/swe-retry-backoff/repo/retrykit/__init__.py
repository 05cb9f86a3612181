"""Retries with capped exponential backoff and jitter for flaky network calls."""

from retrykit.backoff import Backoff
from retrykit.classify import HTTPStatusError, is_retryable, parse_retry_after
from retrykit.retry import RetryExhausted, RetryPolicy, call_with_retry, retrying

__all__ = [
    "Backoff",
    "HTTPStatusError",
    "RetryExhausted",
    "RetryPolicy",
    "call_with_retry",
    "is_retryable",
    "parse_retry_after",
    "retrying",
]
