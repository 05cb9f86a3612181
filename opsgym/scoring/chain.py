"""Chain match: does the answer trace a multi-hop incident from the alerting service back to the root cause?

In a cascade the alert fires on one service (``frontend`` answers 5xx) while the fault sits several hops upstream
(``checkout`` times out calling ``payment``, whose datastore is gone). RootCauseCorrect grades the last hop only; an
answer that blames the right object by luck and one that followed the propagation get the same credit there. The task
states the chain (``ground_truth.chain``: service names, alerting service first, root cause last) and this module
reports how much of it the answer traces, beside RootCauseCorrect and the entity precision and recall. It is
informational: no score formula reads it, so every existing score stays what it was.

Structured first, as the other correctness inputs are:

* the answer carries ``"chain": [...]`` (service names in the same direction): the score is the length of the longest
  common subsequence of that chain and the truth, over the length of the truth; ``exact`` when the two are equal.
  A subsequence, not a prefix or a set: a skipped hop costs that hop, an extra service costs nothing here
  (``precision`` = LCS / length of the answer's chain shows padding), and services in the wrong order cost the
  out-of-order ones. Names are compared in lower case, after a ``kind/`` prefix (``deployment/checkout``).
* otherwise the chain is read from the free text (the diagnosis, then a root cause given as text or an object): the
  truth's services in the order of their first mention. Prose tells a cascade in either direction ("frontend fails
  because checkout…" or "payment broke, so checkout…, so frontend"), so the text is scored both ways and the better
  direction is kept (``direction`` records which). ``source`` is ``"text"``, so a report can tell a traced chain
  from one pieced together out of mentions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field

from opsgym.scoring.precision import mention_pattern

__all__ = ["ChainMatch", "chain_match", "common_subsequence", "mention_order"]


class ChainMatch(BaseModel):
    """How much of the ground truth's propagation chain an answer traces."""

    truth: list[str] = Field(description="the ground truth's chain, alerting service first, root cause last")
    given: list[str] = Field(description="the answer's chain as read (structured, or the order of text mentions)")
    source: Literal["structured", "text"]
    direction: Literal["forward", "reverse"] = Field(
        "forward", description="text only: whether the mentions ran alerting → root (forward) or root → alerting")
    common: int = Field(description="length of the longest common subsequence of given and truth")
    score: float = Field(description="common / len(truth), in [0, 1]")
    precision: float | None = Field(None, description="common / len(given); None when nothing was read")
    exact: bool = Field(description="given equals truth (text: in the direction kept)")


def _name(value: str) -> str:
    return value.strip().rsplit("/", 1)[-1].strip().lower()


def common_subsequence(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of ``a`` and ``b`` (dynamic programming, O(len a · len b))."""
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def mention_order(text: str, services: Sequence[str]) -> list[str]:
    """The ``services`` that ``text`` mentions, in the order of their first mention. Longer names are found first and
    blanked (with as many spaces, so positions hold), so ``checkout-db`` is not also read as ``checkout``."""
    first: dict[str, int] = {}
    for service in sorted(set(services), key=lambda s: (-len(s), s)):
        match = mention_pattern(service).search(text)
        if match is not None:
            first[service] = match.start()
            text = mention_pattern(service).sub(lambda m: " " * len(m.group()), text)
    return sorted(first, key=first.__getitem__)


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(str(v) for v in value.values())
    return str(value or "")


def chain_match(answer: dict[str, Any] | None, ground_truth: dict[str, Any]) -> ChainMatch | None:
    """The chain match of ``answer`` (an Answer as a dict), or None when the ground truth names no chain."""
    truth = [_name(s) for s in ground_truth.get("chain") or [] if isinstance(s, str) and s.strip()]
    if not truth:
        return None
    answer = answer or {}
    given = answer.get("chain")
    if isinstance(given, list) and any(isinstance(s, str) and s.strip() for s in given):
        chain = [_name(s) for s in given if isinstance(s, str) and s.strip()]
        common = common_subsequence(chain, truth)
        return ChainMatch(truth=truth, given=chain, source="structured", common=common, score=common / len(truth),
                          precision=common / len(chain), exact=chain == truth)
    chain = mention_order(f"{_text(answer.get('diagnosis'))}\n{_text(answer.get('root_cause'))}", truth)
    forward, reverse = common_subsequence(chain, truth), common_subsequence(chain[::-1], truth)
    direction: Literal["forward", "reverse"] = "reverse" if reverse > forward else "forward"
    common = max(forward, reverse)
    ordered = chain[::-1] if direction == "reverse" else chain
    return ChainMatch(truth=truth, given=chain, source="text", direction=direction, common=common,
                      score=common / len(truth), precision=common / len(chain) if chain else None,
                      exact=ordered == truth)
