"""Built-in plugin: the LLM backends opsgym ships (factories import their heavy stacks only when called)."""

from __future__ import annotations

from typing import Any

from opsgym.hookspecs import hookimpl
from opsgym.llm.base import target_options


def _hf_naive(target: str | None = None, **options: Any):
    from opsgym.llm.hf import HFBackend

    target, extra = target_options(target)
    return HFBackend(target, reuse_prefix=False, **(extra | options))


def _hf_prefix(target: str | None = None, **options: Any):
    from opsgym.llm.hf import HFBackend

    target, extra = target_options(target)
    return HFBackend(target, reuse_prefix=True, **(extra | options))


def _openai(target: str | None = None, **options: Any):
    from opsgym.llm.openai_backend import OpenAIBackend

    target, extra = target_options(target)
    return OpenAIBackend(target, **(extra | options))


def _vllm(target: str | None = None, **options: Any):
    from opsgym.llm.vllm_backend import VLLMBackend

    target, extra = target_options(target)
    return VLLMBackend(target, **(extra | options))


@hookimpl
def register_llm_backends(register):
    register("hf-naive", _hf_naive)
    register("hf-prefix", _hf_prefix)
    register("openai", _openai)
    register("vllm", _vllm)
