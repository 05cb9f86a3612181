"""The optional LLM judge: grades a free-text diagnosis or root cause against the ground truth.

Any registered LLM backend can judge (``Judge("hf-naive")``, ``Judge("openai:http://127.0.0.1:8000/v1,model=m")`` or
a backend object): the judge sends one chat request and asks for a JSON verdict. What it decided is recorded in full —
verdict, rationale, the judge's backend and model, and the SHA-256 of the exact prompt — so a score can be audited
and a judge change detected. A reply that cannot be read is recorded as an error with no score (the structured
score then stands); a verdict is never guessed. Free text without a JSON verdict is read only when it names exactly
one verdict plainly: a negated one ("not correct", "cannot be considered correct") or one the text contradicts
("correct" beside "wrong") is ambiguous, and reads as no verdict.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Literal, cast

from pydantic import BaseModel

from opsgym.errors import InfrastructureError

__all__ = ["VERDICT_SCORES", "Judge", "JudgeVerdict", "make_judge"]

Verdict = Literal["correct", "partial", "incorrect"]
VERDICT_SCORES: dict[str, float] = {"correct": 1.0, "partial": 0.5, "incorrect": 0.0}

SYSTEM_PROMPT = (
    "You grade one part of an IT-operations incident answer against the reference answer. "
    "Judge meaning, not wording: synonyms and extra detail are fine; a different cause, object or field is wrong. "
    'Reply with only a JSON object: {"verdict": "correct" | "partial" | "incorrect", "rationale": "<one sentence>"}.'
)
_VERDICT_WORD = re.compile(r"\b(incorrect|partial|correct)(?:ly)?\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:not|no|never|cannot|neither|nor|hardly|barely|scarcely|without|far from)\b|n['’]t\b",
                       re.IGNORECASE)
_AGAINST = re.compile(r"\b(?:wrong|inaccurate|mistaken|erroneous|false|invalid|misidentif\w*|misdiagnos\w*)\b",
                      re.IGNORECASE)
_CLAUSE_END = re.compile(r"[.;:!?\n]")
_NEGATION_WINDOW = 4
"""How many words before a verdict word a negation still reverses it, within one clause ("is not at all correct")."""
_JSON_OBJECT = re.compile(r"\{.*?\}", re.DOTALL)


class JudgeVerdict(BaseModel):
    """What the judge said about one component, with what is needed to audit it."""

    component: str
    verdict: Verdict | None = None
    score: float | None = None
    rationale: str = ""
    backend: str = ""
    model: str = ""
    prompt_sha256: str = ""
    raw_output: str = ""
    error: str = ""
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None


def _parse(output: str) -> tuple[Verdict | None, str]:
    for match in _JSON_OBJECT.finditer(output):
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        verdict = str(data.get("verdict", "")).strip().lower() if isinstance(data, dict) else ""
        if verdict in VERDICT_SCORES:
            return cast("Verdict", verdict), str(data.get("rationale", "")).strip()
    free = _free_text_verdict(output)
    return (free, output.strip()) if free else (None, "")


def _negated(output: str, at: int) -> bool:
    clause = _CLAUSE_END.split(output[:at])[-1]
    return bool(_NEGATION.search(" ".join(clause.split()[-_NEGATION_WINDOW:])))


def _free_text_verdict(output: str) -> Verdict | None:
    """The one verdict a free-text reply states plainly, else None (see the module docstring).

    Several verdict words are ambiguous; so is a negated verdict word, since "not correct" may mean incorrect or
    partial; and so is "correct" in a reply that also calls the answer wrong ("wrong field, correct object").
    """
    found: set[str] = set()
    for match in _VERDICT_WORD.finditer(output):
        if _negated(output, match.start()):
            return None
        found.add(match.group(1).lower())
    if len(found) != 1:
        return None
    verdict = found.pop()
    if verdict == "correct" and _AGAINST.search(output):
        return None
    return verdict  # type: ignore[return-value]


class Judge:
    """Grades answers through one LLM backend.

    Args:
        backend: a backend object (with ``chat(messages, **params)`` returning an LLMCall-like object with
            ``output``), or an ``--llm`` spec string resolved through :func:`opsgym.llm.base.create_backend`.
        max_tokens: the reply budget; a verdict and a one-sentence rationale fit in the default.
    """

    def __init__(self, backend: Any, *, max_tokens: int = 120) -> None:
        if isinstance(backend, str):
            from opsgym.llm.base import create_backend

            backend = create_backend(backend)
        self.backend = backend
        self.max_tokens = max_tokens

    @property
    def identity(self) -> dict[str, str]:
        return {"backend": str(getattr(self.backend, "name", type(self.backend).__name__)),
                "model": str(getattr(self.backend, "model", ""))}

    def messages(self, component: str, expected: str, answer: str) -> list[dict[str, str]]:
        user = (f"Part being graded: {component}\nReference answer: {expected}\n"
                f"Agent's answer: {answer}\nIs the agent's {component} correct, partially correct, or incorrect?")
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]

    def grade(self, component: str, expected: str, answer: str) -> JudgeVerdict:
        """Ask the backend once; never raises for a bad reply or an unreachable backend (recorded as ``error``)."""
        messages = self.messages(component, expected, answer)
        digest = hashlib.sha256(json.dumps(messages, sort_keys=True).encode()).hexdigest()
        base = JudgeVerdict(component=component, prompt_sha256=digest, **self.identity)
        try:
            call = self.backend.chat(messages, max_tokens=self.max_tokens, temperature=0.0)
        except (InfrastructureError, OSError, RuntimeError, ValueError) as exc:
            return base.model_copy(update={"error": f"judge request failed: {type(exc).__name__}: {exc}"})
        output = str(getattr(call, "output", call))
        verdict, rationale = _parse(output)
        update: dict[str, Any] = {
            "raw_output": output[:2000], "model": str(getattr(call, "model", "") or base.model),
            "prompt_tokens": getattr(call, "prompt_tokens", None),
            "completion_tokens": getattr(call, "completion_tokens", None),
            "latency_s": getattr(call, "latency_s", None),
        }
        if verdict is None:
            update["error"] = ("the judge's reply has no single verdict (correct, partial or incorrect): none, "
                               "several, a negated or a contradicted one; ask it for the JSON object")
        else:
            update.update(verdict=verdict, score=VERDICT_SCORES[verdict], rationale=rationale[:1000])
        return base.model_copy(update=update)


def make_judge(judge: Judge | str | Any | None) -> Judge | None:
    """``None`` (no judge), a :class:`Judge`, an ``--llm`` spec string, or a backend object."""
    if judge is None or isinstance(judge, Judge):
        return judge
    return Judge(judge)
