"""Text spaces that also work in ``gymnasium.vector.AsyncVectorEnv`` with shared memory (its default).

Gymnasium 1.x's shared-memory path for :class:`gymnasium.spaces.Text` reads the buffer once, when the vector env is
built, into a tuple of immutable strings, so every later ``reset``/``step`` returns that first, empty snapshot (the
same family of bug as Gymnasium issue #1164 for Dict spaces). Our :class:`Text` is gymnasium's ``Text`` with a
shared-memory reader that decodes the buffer each time it is read, and a vectorised writer, so that
``gym.make_vec("opsgym/SRE-1", num_envs=N, vectorization_mode="async")`` returns the real observations.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import read_from_shared_memory, write_to_shared_memory

__all__ = ["SharedTextBatch", "Text"]


class Text(spaces.Text):
    """:class:`gymnasium.spaces.Text` whose batches can live in shared memory."""

    def _codes(self) -> tuple[np.ndarray, np.ndarray]:
        return _code_tables(tuple(self.character_list))


@functools.lru_cache(maxsize=16)
def _code_tables(chars: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Character ↔ code tables: code i is ``chars[i]``; the pad code (end of string) is ``len(chars)``."""
    encode = np.full(max(ord(c) for c in chars) + 2 if chars else 1, len(chars), dtype=np.int32)
    encode[[ord(c) for c in chars]] = np.arange(len(chars), dtype=np.int32)
    decode = np.array([ord(c) for c in chars] + [0], dtype=np.uint32)
    return encode, decode


class SharedTextBatch(Sequence[str]):
    """A live view of ``n`` strings in a shared buffer; ``copy.deepcopy`` (what AsyncVectorEnv returns) is a tuple."""

    def __init__(self, space: Text, shared_memory: Any, n: int) -> None:
        self._rows = np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape((n, space.max_length))
        self._pad = len(space.character_list)
        self._decode = space._codes()[1]

    def _string(self, index: int) -> str:
        row = self._rows[index]
        ends = np.flatnonzero(row >= self._pad)
        codes = self._decode[row[: ends[0] if ends.size else row.size]]
        return codes.astype(np.uint8).tobytes().decode("latin-1") if codes.size == 0 or codes.max() < 256 else (
            "".join(map(chr, codes)))

    def __len__(self) -> int:
        return self._rows.shape[0]

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return tuple(self._string(i) for i in range(*index.indices(len(self))))
        return self._string(range(len(self))[index])

    def __iter__(self) -> Iterator[str]:
        return (self._string(i) for i in range(len(self)))

    def __deepcopy__(self, memo: dict[int, Any]) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    __hash__ = None  # type: ignore[assignment]  # a live view is mutable, so unhashable

    def __repr__(self) -> str:
        return repr(tuple(self))


@read_from_shared_memory.register(Text)
def _read_text(space: Text, shared_memory: Any, n: int = 1) -> SharedTextBatch:
    return SharedTextBatch(space, shared_memory, n)


@write_to_shared_memory.register(Text)
def _write_text(space: Text, index: int, value: str, shared_memory: Any) -> None:
    size = space.max_length
    row = np.frombuffer(shared_memory.get_obj(), dtype=np.int32)[index * size: (index + 1) * size]
    encode = space._codes()[0]
    points = np.frombuffer(value[:size].encode("utf-32-le"), dtype=np.uint32)
    row[: points.size] = encode[np.minimum(points, encode.size - 1)]  # the last entry is always the pad code
    row[points.size:] = len(space.character_list)
