"""``react``: a ReAct agent (Thought → Action → Observation) driven by any :class:`~opsgym.llm.base.LLMBackend`.

The conversation only ever grows at the end (system prompt, the task, then one assistant turn and one observation per
step), which is exactly the traffic pattern of the seed's §4: prompt tokens dominate and a prefix cache turns the
per-turn cost from the whole history into the new tokens. When the history outgrows the context budget the oldest
observations (never the task itself) are shortened, so the prompt stays within the model's window.

Model output is untrusted text: the action is the text after the last ``Action:`` line, else the first line that
starts with a known verb, else the raw output. Whatever comes out is sent to the env, which answers a malformed action
with an "Invalid action" observation; the agent never raises for model output. An LLM request that fails for
infrastructure reasons is recorded in the ledger and re-raised as :class:`~opsgym.errors.LLMRequestError` so the
runner counts an infrastructure failure, not an agent failure.
"""

from __future__ import annotations

import re
from typing import Any

from opsgym.errors import LLMRequestError
from opsgym.llm.base import LLMBackend, create_backend
from opsgym.llm.telemetry import Ledger, LLMCall

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
        max_tokens: generation limit per turn.
        temperature: sampling temperature (0 = greedy, reproducible).
        context_chars: history budget in characters (≈ 4 per token); older observations are shortened beyond it.
        low_water: fraction of the budget the history is trimmed down to once it overflows.
        system_prompt: template with ``{tools}`` (one ``usage  summary`` line per tool).
        examples: few-shot (observation, answer) turns placed before the task; ``()`` for none.
        observation_template: template with ``{observation}`` for each env answer.
        stop: stop strings, so the model does not invent the observation itself.
        llm_options: extra options when ``llm`` is a spec string.
    """

    def __init__(self, llm: str | LLMBackend = "hf-prefix", *, max_tokens: int = 96, temperature: float = 0.0,
                 context_chars: int = 24000, low_water: float = 0.6, system_prompt: str = DEFAULT_SYSTEM_PROMPT,
                 observation_template: str = DEFAULT_OBSERVATION, stop: tuple[str, ...] = ("\nObservation:",),
                 examples: tuple[tuple[str, str], ...] | list[list[str]] = DEFAULT_EXAMPLES,
                 llm_options: dict[str, Any] | None = None):
        self.llm = create_backend(llm, **(llm_options or {}))
        self.max_tokens, self.temperature = max_tokens, temperature
        self.context_chars, self.low_water = context_chars, low_water
        self.system_prompt, self.observation_template = system_prompt, observation_template
        self.stop = list(stop)
        self.examples = [(str(user), str(assistant)) for user, assistant in examples]
        self.ledger = Ledger()
        self.messages: list[dict[str, Any]] = []
        self._env: Any = None
        self._verbs: set[str] = set()
        self._seed = 0
        self._first_free = 0

    def reset(self, *, seed: int | None = None, env: Any = None, ledger: Ledger | None = None) -> None:
        self._env = env
        self._seed = seed or 0
        self.ledger = ledger if ledger is not None else Ledger()
        self.messages = []

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
            content = self.observation_template.format(observation=observation)
            left = self._steps_left(info)
            if left is not None and left <= 3:
                content += _STEPS_LEFT.format(left=left)
            self.messages.append({"role": "user", "content": content})
        self._fit_budget()
        call = self._call()
        self.messages.append({"role": "assistant", "content": call.output})
        return parse_action(call.output, self._verbs)

    def _call(self) -> LLMCall:
        try:
            messages = [dict(m) for m in self.messages]
            seed = self._seed + len(self.ledger.calls)  # reproducible, yet not the same draw every turn
            call = self.llm.chat(messages, max_tokens=self.max_tokens, temperature=self.temperature, stop=self.stop,
                                 seed=seed)
        except LLMRequestError as exc:
            if isinstance(exc.call, LLMCall):
                self.ledger.record(exc.call)
            raise
        self.ledger.record(call)
        return call

    def _fit_budget(self) -> None:
        """Once the history outgrows ``context_chars``, shorten the oldest observations (after the task) down to
        ``low_water`` of the budget.

        Why down to a low-water mark: every shortened message invalidates a prefix cache from that point on, so
        trimming well below the limit in one go keeps the history stable (and cacheable) for the next several turns.
        """
        total = sum(len(m["content"]) for m in self.messages)
        if total <= self.context_chars:
            return
        for i in range(self._first_free, len(self.messages) - 1):
            message = self.messages[i]
            if total <= self.context_chars * self.low_water:
                return
            if message["role"] != "user" or len(message["content"]) <= 200:
                continue
            shortened = message["content"][:160] + f" … [{len(message['content']) - 160} characters dropped]"
            total -= len(message["content"]) - len(shortened)
            self.messages[i] = {**message, "content": shortened}  # recorded calls keep what they really sent
