"""Tiny helpers for chunking work into batches."""

from fizz.batching import batch_count, batches

__all__ = ["batch_count", "batches"]
