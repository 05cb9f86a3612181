"""LLM backends (OpenAI-compatible, vLLM, transformers baselines) and the inference-telemetry ledger."""
