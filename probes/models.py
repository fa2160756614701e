"""Load the base model and tokenizer once per suite: hub id, local directory, or GGUF file."""
from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from knowledge.errors import ProbeError
from knowledge.userfiles import short

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


PICKLE_WEIGHT_PATTERNS = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")


def _refuse_pickle_only(path: Path, model: str) -> None:
    """A local folder whose weights are only pickles (pytorch_model.bin, ...) is refused before anything is read:
    unpickling a file can run arbitrary code. Weights are only ever read from safetensors (or GGUF)."""
    if not path.is_dir() or any(path.glob("*.safetensors")):
        return
    pickles = sorted(p.name for pattern in PICKLE_WEIGHT_PATTERNS for p in path.glob(pattern)
                     if p.name != "training_args.bin")
    if pickles:
        raise ProbeError(f"Model {short(model)} has only pickle weights ({', '.join(pickles[:3])}) and no .safetensors file. "
                         "Pickle files can run code when loaded, so they are never read. Convert the weights once, in an "
                         "environment you trust: AutoModel.from_pretrained(dir).save_pretrained(dir) writes model.safetensors.")


def _check_saved_head(config, model: str, n_labels: int) -> None:
    """A checkpoint with a classification head for another number of classes cannot score this data's labels."""
    architectures = getattr(config, "architectures", None) or []
    if not any(name.endswith("ForSequenceClassification") for name in architectures):
        return
    saved = getattr(config, "num_labels", None)
    if saved is not None and saved != n_labels:
        names = list((getattr(config, "id2label", None) or {}).values())
        raise ProbeError(f"Model {short(model)} carries a trained classification head for {saved} classes "
                         f"({short(names, 80)}); the data has {n_labels} labels. Probe the base model the head was trained "
                         "on instead (a fresh head is trained for your labels), or give data with the same classes.")


def _load_weights(auto_class, location: str, model: str, gguf: Optional[str], kwargs: dict, **extra):
    """The model's weights, from safetensors (or GGUF) only, never a pickle; file problems become ProbeError."""
    import torch

    dtype = torch.bfloat16 if torch.cuda.is_available() else torch.float32
    weights = {} if gguf else {"use_safetensors": True}
    try:
        return auto_class.from_pretrained(location, dtype=dtype, **weights, **extra, **kwargs)
    except OSError as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        hint = " Only safetensors weights are read (never pickles)." if "safetensors" in first_line else ""
        raise ProbeError(f"Model {short(model)} weights could not be loaded: {short(first_line, 300)}.{hint}") from None
    except (ValueError, RuntimeError) as error:
        if isinstance(error, RuntimeError) and "mismatch" not in str(error).lower():
            raise  # e.g. out of memory: not a problem of the files
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ProbeError(f"Model {short(model)} weights could not be loaded (do they match its config?): {short(first_line, 300)}") from None


def load_base_model(model: str, task_kind: str, n_labels: int, gguf_file: Optional[str] = None,
                    trust_remote_code: bool = False, lm_head: bool = False) -> LoadedModel:
    """``lm_head``: load a decoder as a causal LM for classification too (label likelihood, probes.decoder)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer

    path = Path(model)
    gguf = _find_gguf(path, gguf_file)
    if not gguf:
        _refuse_pickle_only(path, model)
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
    if task_kind == "classification" and not (lm_head and not is_encoder):
        _check_saved_head(config, model, n_labels)
        base = _load_weights(AutoModelForSequenceClassification, location, model, gguf, kwargs, num_labels=n_labels)
    else:
        base = _load_weights(AutoModelForCausalLM, location, model, gguf, kwargs)
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
