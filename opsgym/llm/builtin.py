"""Built-in plugin: the LLM backends opsgym ships (factories import their heavy stacks only when called)."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from typing import Any

from opsgym.hookspecs import hookimpl
from opsgym.llm.base import target_options


def _factory(module: str, name: str, **fixed: Any) -> Callable[..., Any]:
    """A factory for backend class ``module.name`` with ``fixed`` arguments.

    Why the signature: a run binds ``--llm-option`` keys against the factory before any episode starts, so it carries
    the class's own parameters (less the fixed ones) instead of a bare ``**options`` that would accept any typo. The
    backend modules import torch, transformers or openai only inside their methods, so reading them here is cheap.
    """
    backend = getattr(importlib.import_module(f"opsgym.llm.{module}"), name)

    def create(target: str | None = None, **options: Any) -> Any:
        target, extra = target_options(target)
        return backend(target, **fixed, **(extra | options))

    signature = inspect.signature(backend)
    create.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[p for p in signature.parameters.values() if p.name not in fixed])
    return create


@hookimpl
def register_llm_backends(register: Callable[[str, Any], None]) -> None:
    register("hf-naive", _factory("hf", "HFBackend", reuse_prefix=False))
    register("hf-prefix", _factory("hf", "HFBackend", reuse_prefix=True))
    register("openai", _factory("openai_backend", "OpenAIBackend"))
    register("vllm", _factory("vllm_backend", "VLLMBackend"))
