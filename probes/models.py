"""Load the base model and tokenizer once per suite: hub id, local directory, or GGUF file."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from knowledge.errors import ProbeError

ENCODER_MODEL_TYPES = {"bert", "roberta", "distilbert", "deberta", "deberta-v2", "electra", "albert",
                       "xlm-roberta", "mpnet", "modernbert", "camembert"}


@dataclass
class LoadedModel:
    """The pristine base model (kept on the CPU, copied per trial) and what trials need to know about it."""

    name: str
    model: Any
    tokenizer: Any
    is_encoder: bool
    task_kind: str
    n_params: int
    gguf_file: Optional[str]
    load_kwargs: dict
    lm_head: bool = False  # classification scored through the LM head (label likelihood), not a new head

    def fresh_copy(self):
        """A trainable copy of the base for one trial; the pristine base is never modified."""
        return copy.deepcopy(self.model)


def resolve_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _find_gguf(path: Path, gguf_file: Optional[str]) -> Optional[str]:
    if gguf_file:
        return gguf_file
    if path.is_file() and path.suffix == ".gguf":
        return path.name
    if path.is_dir():
        files = sorted(p.name for p in path.glob("*.gguf"))
        if len(files) == 1 and not (path / "config.json").exists():
            return files[0]
    return None


def load_base_model(model: str, task_kind: str, n_labels: int, gguf_file: Optional[str] = None,
                    trust_remote_code: bool = False, lm_head: bool = False) -> LoadedModel:
    """``lm_head``: load a decoder as a causal LM for classification too (label likelihood, probes.decoder)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    path = Path(model)
    gguf = _find_gguf(path, gguf_file)
    location = str(path.parent if path.is_file() else model)
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if gguf:
        kwargs["gguf_file"] = gguf
    try:
        config = AutoConfig.from_pretrained(location, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(location, **kwargs)
    except OSError as error:
        raise ProbeError(f"Model {model!r} could not be loaded: not a local directory with a config, and the hub is "
                         f"unreachable or has no such model ({error.__class__.__name__}: {str(error).splitlines()[0]}).") from None
    except ValueError as error:
        raise ProbeError(f"Model {model!r} could not be loaded: {str(error).splitlines()[0]}. If it needs its own code, "
                         "pass --trust-remote-code (only for repositories you trust).") from None
    is_encoder = config.model_type in ENCODER_MODEL_TYPES
    if getattr(config, "is_encoder_decoder", False):
        raise ProbeError(f"Model {model!r} is an encoder-decoder ({config.model_type}); probes support encoders and decoders.")
    if task_kind == "generation" and is_encoder:
        raise ProbeError(f"Model {model!r} is an encoder ({config.model_type}); generation data needs a decoder (causal LM).")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if not is_encoder:
        tokenizer.padding_side = "left"  # prompt tuning prepends virtual tokens; left padding keeps the last token real
    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    try:
        if task_kind == "classification" and not (lm_head and not is_encoder):
            base = AutoModelForSequenceClassification.from_pretrained(location, num_labels=n_labels, dtype=dtype, **kwargs)
        else:
            base = AutoModelForCausalLM.from_pretrained(location, dtype=dtype, **kwargs)
    except (OSError, ValueError) as error:
        raise ProbeError(f"Model {model!r} weights could not be loaded: {str(error).splitlines()[0]}") from None
    if base.config.pad_token_id is None:
        base.config.pad_token_id = tokenizer.pad_token_id
    if gguf and getattr(base.config, "quantization_config", None) is not None:
        # GGUF weights are dequantised on load; drop the marker so trials can save adapters.
        del base.config.quantization_config
    base.eval()
    n_params = sum(p.numel() for p in base.parameters())
    return LoadedModel(name=model + (f"::{gguf}" if gguf and gguf not in model else ""), model=base, tokenizer=tokenizer,
                       is_encoder=is_encoder, task_kind=task_kind, n_params=n_params, gguf_file=gguf, load_kwargs=kwargs,
                       lm_head=lm_head and not is_encoder)
