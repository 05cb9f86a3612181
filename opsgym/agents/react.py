"""``react``: a ReAct agent (Thought → Action → Observation) driven by any :class:`~opsgym.llm.base.LLMBackend`.

The conversation only ever grows at the end (system prompt, the task, then one assistant turn and one observation per
step), which is exactly the traffic pattern of the seed's §4: prompt tokens dominate and a prefix cache turns the
per-turn cost from the whole history into the new tokens. The context policy is built to keep that prefix stable:

* the budget follows the model's real context window (the backend's ``context_window``: 8,192 tokens for SmolLM2),
  not a fixed guess far below it, so a history that fits is never touched;
* an observation identical to one already in the history (an agent stuck repeating an action) is sent as a short
  reference to it, decided once when it arrives, so it never has to be rewritten later;
* when the history does outgrow the budget it is cut in one large step, down to ``low_water`` of the budget, by
  shortening the oldest observations and, if that is not enough, dropping the oldest steps; the system prompt, the
  examples and the task are never touched. Every cut
  invalidates a prefix cache from the first changed message on, so one deep cut every many turns costs far less than
  a small cut every turn.

Model output is untrusted text: the action is the text after the last ``Action:`` line, else the first line that
starts with a known verb, else the raw output. Whatever comes out is sent to the env, which answers a malformed action
with an "Invalid action" observation; the agent never raises for model output. Every call, a failed one too, goes
to the episode's ledger (:func:`~opsgym.llm.telemetry.record_call`); a request that fails for infrastructure reasons
is re-raised as :class:`~opsgym.errors.LLMRequestError` so the runner counts an infrastructure failure, not an agent
failure.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from opsgym.errors import LLMRequestError
from opsgym.llm.base import LLMBackend, create_backend
from opsgym.llm.telemetry import Ledger, LLMCall, record_call

if TYPE_CHECKING:
    import gymnasium as gym

__all__ = ["DEFAULT_SYSTEM_PROMPT", "ReActAgent", "parse_action"]

DEFAULT_SYSTEM_PROMPT = """You are an on-call engineer solving the task below step by step.
At each step write exactly two lines:
Thought: <one short sentence of reasoning>
Action: <one action>
Then stop and wait for the Observation. Use only these actions:
{tools}
Finish with a submit action as soon as you know the answer."""

DEFAULT_EXAMPLES: tuple[tuple[str, str], ...] = (
    ("[FIRING] KubeDeploymentReplicasMismatch (namespace=demo)\nDeployment web has fewer ready replicas than desired.",
     "Thought: First I list the pods of every namespace to find the failing one.\nAction: kubectl get pods -A"),
    ("Observation: NAMESPACE NAME READY STATUS RESTARTS AGE\ndemo web-5d9c7-abcde 0/1 ImagePullBackOff 0 5m",
     "Thought: The events of the failing pod will say why.\nAction: kubectl describe pod web-5d9c7-abcde -n demo"),
)
"""Few-shot turns shown before the task (an invented incident): small models follow the format far better with them."""

DEFAULT_OBSERVATION = "Observation: {observation}"
DEFAULT_STOP = ("\nObservation:", "\nThought:")
"""One step per turn: the model must not invent the observation, nor start its next step before seeing it."""
REPEATED_OBSERVATION = "(the same output as after step {step}, shown above)"
DEFAULT_CONTEXT_TOKENS = 8192
"""Budget used when the backend does not say its context window (an OpenAI-compatible server, say)."""
CHARS_PER_TOKEN = 3.0
"""Characters per token assumed when turning a token window into a character budget: kubectl output and JSON
tokenise at ~3.4 characters per token with SmolLM2's tokenizer (English prose ~4), so 3 errs on the safe side."""
_STEPS_LEFT = "\n({left} steps left.)"
_ACTION_RE = re.compile(r"^\s*\**\s*Action\s*\**\s*:\s*\**\s*", re.IGNORECASE | re.MULTILINE)


def parse_action(output: str, verbs: set[str] | frozenset[str] = frozenset()) -> str:
    """Pull the action out of one model turn; never raises.

    Why so lenient: small models drift from the format, and a reasonable action hidden in a sloppy turn is still the
    agent's decision; anything unrecognisable is passed on as-is for the env to reject.
    """
    matches = list(_ACTION_RE.finditer(output))
    if matches:
        action = output[matches[-1].end():]
        action = action.split("\nObservation:", 1)[0].split("\nThought:", 1)[0]
    else:
        lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
        action = next((ln for ln in lines if ln.split(" ", 1)[0] in verbs), output)
    action = action.strip().strip("`").strip()
    if action.startswith(("bash\n", "sh\n")):
        action = action.split("\n", 1)[1].strip()
    return action if "\n" in action and action.split(" ", 1)[0] in {"edit", "submit"} else action.split("\n")[0]


class ReActAgent:
    """ReAct over the env's tool set.

    Args:
        llm: an :class:`LLMBackend` or a spec string (``hf-prefix``, ``openai:http://127.0.0.1:8000/v1`` …).
        max_tokens: generation limit per turn: a one-sentence Thought plus one Action, with room for a ``submit``
            JSON answer (~60 tokens) — 96 by default.
        temperature: sampling temperature (0 = greedy, reproducible).
        context_tokens: prompt window in tokens; default: the backend's ``context_window``, else
            :data:`DEFAULT_CONTEXT_TOKENS`. The history budget is this minus ``max_tokens``, in characters at
            :data:`CHARS_PER_TOKEN`.
        context_chars: history budget in characters, overriding ``context_tokens``.
        low_water: fraction of the budget the history is trimmed down to once it overflows (one deep cut).
        dedupe_observations: send an observation identical to an earlier one still in the history as a reference.
        system_prompt: template with ``{tools}`` (one ``usage  summary`` line per tool).
        examples: few-shot (observation, answer) turns placed before the task; ``()`` for none.
        observation_template: template with ``{observation}`` for each env answer.
        stop: stop strings (:data:`DEFAULT_STOP`), so the model does not invent the observation or its next step.
        llm_options: extra options when ``llm`` is a spec string.
    """

    def __init__(self, llm: str | LLMBackend = "hf-prefix", *, max_tokens: int = 96, temperature: float = 0.0,
                 context_tokens: int | None = None, context_chars: int | None = None, low_water: float = 0.5,
                 dedupe_observations: bool = True, system_prompt: str = DEFAULT_SYSTEM_PROMPT,
                 observation_template: str = DEFAULT_OBSERVATION, stop: tuple[str, ...] = DEFAULT_STOP,
                 examples: tuple[tuple[str, str], ...] | list[list[str]] = DEFAULT_EXAMPLES,
                 llm_options: dict[str, Any] | None = None):
        self.llm = create_backend(llm, **(llm_options or {}))
        self.max_tokens, self.temperature = max_tokens, temperature
        window = context_tokens or getattr(self.llm, "context_window", None) or DEFAULT_CONTEXT_TOKENS
        self.context_chars = context_chars or int(max(window - max_tokens, 0) * CHARS_PER_TOKEN)
        self.low_water, self.dedupe_observations = low_water, dedupe_observations
        self.system_prompt, self.observation_template = system_prompt, observation_template
        self.stop = list(stop)
        self.examples = [(str(user), str(assistant)) for user, assistant in examples]
        self._ledger: Ledger | None = None
        self._calls = 0
        self.messages: list[dict[str, Any]] = []
        self._env: Any = None
        self._verbs: set[str] = set()
        self._seed = 0
        self._first_free = 0
        self._seen: dict[str, tuple[int, int]] = {}  # observation → (its message index, the step it followed)
        self._omitted = 0

    def reset(self, *, seed: int | None = None, env: gym.Env[Any, Any] | None = None,
              ledger: Ledger | None = None) -> None:
        """Start an episode. ``ledger`` is deprecated: calls go to the episode's bound ledger
        (:func:`~opsgym.llm.telemetry.record_call`); a ledger passed here is used instead, as the old contract did."""
        self._env = env
        self._seed = seed or 0
        self._ledger = ledger
        self._calls = 0
        self.messages = []
        self._seen = {}
        self._omitted = 0

    def _tools_text(self) -> str:
        tools = getattr(getattr(self._env, "unwrapped", self._env), "tools", None) or ()
        self._verbs = {t.verb for t in tools}
        if not tools:
            return "(the actions listed in the task)"
        return "\n".join(f"  {t.usage}  — {t.summary}" for t in tools)

    def _steps_left(self, info: dict[str, Any]) -> int | None:
        max_steps = getattr(getattr(self._env, "unwrapped", self._env), "max_steps", None)
        step = info.get("step")
        return max_steps - step if isinstance(max_steps, int) and isinstance(step, int) else None

    def act(self, observation: str, info: dict[str, Any]) -> str:
        if not self.messages:
            self.messages = [{"role": "system", "content": self.system_prompt.format(tools=self._tools_text())}]
            for user, assistant in self.examples:
                self.messages += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
            self.messages.append({"role": "user", "content": observation})
            self._first_free = len(self.messages)
        else:
            content = self.observation_template.format(observation=self._observation_text(observation, info))
            left = self._steps_left(info)
            if left is not None and left <= 3:
                content += _STEPS_LEFT.format(left=left)
            self.messages.append({"role": "user", "content": content})
        self._fit_budget()
        call = self._call()
        self.messages.append({"role": "assistant", "content": call.output})
        return parse_action(call.output, self._verbs)

    def _observation_text(self, observation: str, info: dict[str, Any]) -> str:
        """The observation, or a reference to an identical one still whole in the history."""
        reported = info.get("step")
        step = reported if isinstance(reported, int) else len(self.messages)
        earlier = self._seen.get(observation) if self.dedupe_observations else None
        if earlier is not None and len(observation) > len(REPEATED_OBSERVATION) + 20:
            return REPEATED_OBSERVATION.format(step=earlier[1])
        self._seen[observation] = (len(self.messages), step)
        return observation

    def _call(self) -> LLMCall:
        try:
            messages = [dict(m) for m in self.messages]
            seed = self._seed + self._calls  # reproducible, yet not the same draw every turn
            call = self.llm.chat(messages, max_tokens=self.max_tokens, temperature=self.temperature, stop=self.stop,
                                 seed=seed)
        except LLMRequestError as exc:
            if isinstance(exc.call, LLMCall):
                self._record(exc.call)
            raise
        self._record(call)
        return call

    def _record(self, call: LLMCall) -> None:
        self._calls += 1
        if self._ledger is not None:
            self._ledger.record(call)
        else:
            record_call(call)

    def _fit_budget(self) -> None:
        """Once the history outgrows ``context_chars``, cut it in one go down to ``low_water`` of the budget: first
        shorten the oldest observations (after the task), then, if that is not enough, drop the oldest whole steps.

        Why down to a low-water mark: every change invalidates a prefix cache from that point on, so trimming well
        below the limit in one go keeps the history stable (and cacheable) for the next several turns. Why drop whole
        steps at all: shortened observations still cost ~50 tokens each, so over a long episode shortening alone
        cannot keep the prompt inside the window.
        """
        total = sum(len(m["content"]) for m in self.messages)
        if total <= self.context_chars:
            return
        target = self.context_chars * self.low_water
        for i in range(self._first_free, len(self.messages) - 1):
            message = self.messages[i]
            if total <= target:
                return
            if message["role"] != "user" or len(message["content"]) <= 200:
                continue
            shortened = message["content"][:160] + f" … [{len(message['content']) - 160} characters dropped]"
            total -= len(message["content"]) - len(shortened)
            self.messages[i] = {**message, "content": shortened}  # recorded calls keep what they really sent
            self._seen = {obs: at for obs, at in self._seen.items() if at[0] != i}  # a repeat must be sent whole
        start, dropped = self._first_free, 0
        while total > target and len(self.messages) - start > 2:  # an assistant turn + its observation; keep the last
            total -= sum(len(m["content"]) for m in self.messages[start:start + 2])
            del self.messages[start:start + 2]
            dropped += 1
        if dropped:  # the previous note, if any, sat on the first dropped message
            self._omitted += dropped
            note = f"[{self._omitted} earlier steps omitted to fit the context window]\n"
            self.messages[start] = {**self.messages[start], "content": note + self.messages[start]["content"]}
            self._seen.clear()  # message positions moved; a later repeat is simply sent whole
