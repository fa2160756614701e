"""Cost model: trainable parameters, training memory, time, artefact size and serving cost per method.

Formulas only (no weights are loaded). With ``Situation.model_name`` the model's config is read
through transformers for its exact shape; otherwise the nearest published shape in
knowledge/costs.yaml is used. Every constant comes from knowledge/costs.yaml.
"""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Optional

from pydantic import BaseModel, ConfigDict, Field

from advisor.knowledge import KnowledgeBase, ModelShape
from advisor.situation import ModelAccess, Situation

GIB = 1024**3


class ModelShapeEstimate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    params_b: float
    hidden: int
    layers: int
    intermediate: int
    origin: str = Field(description="'model config <name>' or 'nearest published shape (<params>B)'.")


class MethodCost(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    method: str
    trainable_params: int
    training_memory_gib: float = Field(description="Smallest workable training setting: micro-batch 1, gradient checkpointing, at seq_len_tokens.")
    weights_memory_gib: float
    optimizer_and_gradients_gib: float
    activations_memory_gib: float
    available_memory_gib: float
    feasible: bool
    infeasible_reason: Optional[str] = None
    est_training_hours: float = Field(description="Estimated wall time of a full training run on the user's GPUs (default epochs).")
    est_gpu_hours: float
    artifact_size_mib_per_task: float
    serving_memory_gib: float = Field(description="Memory to serve all n_tasks from one deployment.")
    extra_tokens_per_request: int


def estimate_shape(situation: Situation, kb: KnowledgeBase) -> ModelShapeEstimate:
    """Exact shape from a transformers config when the user named a model, else the nearest published shape."""
    if situation.model_name:
        shape = _shape_from_config(situation.model_name)
        if shape is not None:
            return shape
    target = math.log(situation.model_params_b)
    nearest: ModelShape = min(kb.costs.model_shapes, key=lambda s: abs(math.log(s.params_b) - target))
    return ModelShapeEstimate(
        params_b=situation.model_params_b, hidden=nearest.hidden, layers=nearest.layers,
        intermediate=nearest.intermediate, origin=f"nearest published shape ({nearest.params_b:g}B)",
    )


@lru_cache(maxsize=64)
def _shape_from_config(model_name: str) -> Optional[ModelShapeEstimate]:
    """Read the model's config (never its weights); cached, since counterfactual re-runs ask again."""
    try:
        from transformers import AutoConfig  # lazy: only when a model is named

        config = AutoConfig.from_pretrained(model_name, trust_remote_code=False)
    except Exception:  # noqa: BLE001 - offline or unknown model: fall back to the published-shape table
        return None
    config = getattr(config, "text_config", None) or config
    hidden = getattr(config, "hidden_size", None) or getattr(config, "n_embd", None) or getattr(config, "d_model", None)
    layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None) or getattr(config, "num_layers", None)
    if not hidden or not layers:
        return None
    intermediate = getattr(config, "intermediate_size", None) or getattr(config, "n_inner", None) or getattr(config, "d_ff", None) or 4 * hidden
    vocab = getattr(config, "vocab_size", 0) or 0
    params = 12 * layers * hidden * hidden + vocab * hidden
    return ModelShapeEstimate(params_b=params / 1e9, hidden=hidden, layers=layers, intermediate=intermediate, origin=f"model config {model_name}")


def _lora_params(shape: ModelShapeEstimate, rank: int, kb: KnowledgeBase) -> int:
    per_layer = rank * (kb.costs.lora_attention_projections * 2 * shape.hidden
                        + kb.costs.lora_mlp_projections * (shape.hidden + shape.intermediate))
    return per_layer * shape.layers


def trainable_params(method: str, situation: Situation, shape: ModelShapeEstimate, kb: KnowledgeBase) -> int:
    spec = kb.methods[method]
    total = int(situation.model_params_b * 1e9)
    if not spec.needs_training:
        return 0
    if method == "full_finetune":
        return total
    if method in ("lora", "qlora", "rslora"):
        return _lora_params(shape, spec.lora_rank, kb)
    if method == "dora":  # LoRA plus one magnitude per output feature of every adapted linear layer
        outputs = kb.costs.lora_attention_projections * shape.hidden + kb.costs.lora_mlp_projections * shape.intermediate
        return _lora_params(shape, spec.lora_rank, kb) + outputs * shape.layers
    if method == "ia3":  # one scaling vector each on keys, values and the feed-forward activations
        return shape.layers * (2 * shape.hidden + shape.intermediate)
    if method == "linear_probe":  # a linear head over pooled features (per class; a handful of classes)
        return shape.hidden
    if method == "prompt_tuning":
        return spec.virtual_tokens * shape.hidden
    if method == "prefix_tuning":
        return spec.virtual_tokens * 2 * shape.layers * shape.hidden
    if method == "hybrid":
        return _lora_params(shape, spec.lora_rank, kb) + spec.virtual_tokens * shape.hidden * situation.n_tasks
    raise ValueError(f"no cost formula for method {method!r}")


def _per_task_artifact_params(method: str, situation: Situation, shape: ModelShapeEstimate, kb: KnowledgeBase) -> int:
    if method == "hybrid":
        spec = kb.methods[method]
        return spec.virtual_tokens * shape.hidden + _lora_params(shape, spec.lora_rank, kb) // situation.n_tasks
    return trainable_params(method, situation, shape, kb)


def estimate_cost(method: str, situation: Situation, kb: KnowledgeBase, shape: ModelShapeEstimate) -> MethodCost:
    c = kb.costs
    spec = kb.methods[method]
    n_params = situation.model_params_b * 1e9
    n_trainable = trainable_params(method, situation, shape, kb)
    seq = situation.seq_len_tokens + spec.virtual_tokens
    batch = c.feasibility_micro_batch
    bf16 = c.bytes_per_param["bf16"]
    available_gib = situation.n_gpus * situation.gpu_memory_gb * 1e9 / GIB * c.usable_memory_fraction
    on_vendor = situation.model_access != ModelAccess.OPEN_WEIGHTS

    if spec.needs_training:
        weight_bytes = n_params * (c.bytes_per_param["nf4"] if method == "qlora" else bf16)
        if method == "full_finetune":
            weight_bytes = 0.0  # counted inside the 16 bytes per trainable parameter
        state_bytes = n_trainable * c.trainable_bytes_per_param
        activation_bytes = seq * batch * shape.hidden * (
            shape.layers * c.checkpointed_activation_bytes_per_token_per_hidden + c.activation_bytes_per_token_per_hidden
        )
        flops_per_token = (c.full_finetune_flops_per_param_token if method == "full_finetune" else c.frozen_base_flops_per_param_token) * n_params
    else:  # inference only: weights plus a little working memory
        weight_bytes, state_bytes = n_params * bf16, 0.0
        activation_bytes = seq * shape.hidden * c.activation_bytes_per_token_per_hidden
        flops_per_token = 0.0
    total_gib = (weight_bytes + state_bytes + activation_bytes) / GIB + c.fixed_overhead_gib

    feasible, reason = True, None
    if on_vendor:
        total_gib = 0.0  # the vendor's hardware
    elif spec.needs_cuda and situation.gpu_memory_gb == 0:
        feasible, reason = False, f"{spec.name} needs a CUDA GPU (4-bit kernels); none is available."
    elif spec.needs_training and situation.gpu_memory_gb == 0:
        if situation.model_params_b > c.cpu_training_max_params_b:
            feasible, reason = False, (
                f"No GPU: training a {situation.model_params_b:g}B model on the CPU is impractical "
                f"(limit {c.cpu_training_max_params_b:g}B)."
            )
    elif spec.needs_training and situation.gpu_memory_gb > 0 and total_gib > available_gib:
        # Prompting methods are never ruled out on memory: the user already runs the model somehow
        # (quantised, offloaded or hosted); their serving_memory_gib still shows the cost.
        feasible, reason = False, (
            f"Needs about {total_gib:.1f} GiB even at micro-batch {batch} with gradient checkpointing; "
            f"{situation.n_gpus} x {situation.gpu_memory_gb:g} GB gives about {available_gib:.1f} GiB usable."
        )

    tokens = situation.n_labeled_examples * situation.seq_len_tokens * c.default_epochs
    if situation.gpu_memory_gb > 0 and situation.n_gpus > 0:
        flops_per_s = situation.n_gpus * c.reference_gpu_peak_tflops * 1e12 * c.reference_model_flops_utilisation
        gpus = situation.n_gpus
    else:
        flops_per_s, gpus = c.cpu_effective_tflops * 1e12, 0
    train_s = flops_per_token * tokens / flops_per_s if flops_per_token else 0.0

    artifact_params = _per_task_artifact_params(method, situation, shape, kb)
    artifact_mib = artifact_params * bf16 / 2**20
    base_gib = n_params * bf16 / GIB
    if on_vendor or not spec.needs_weights:
        serving_gib = 0.0 if on_vendor else base_gib
    elif method == "full_finetune":
        serving_gib = base_gib * situation.n_tasks
    else:
        serving_gib = (n_params * (c.bytes_per_param["nf4"] if method == "qlora" else bf16)) / GIB + situation.n_tasks * artifact_mib / 1024

    extra_tokens = spec.extra_tokens_per_request + spec.in_context_examples * situation.seq_len_tokens + spec.virtual_tokens
    return MethodCost(
        method=method,
        trainable_params=n_trainable,
        training_memory_gib=round(total_gib, 3),
        weights_memory_gib=round(weight_bytes / GIB, 3),
        optimizer_and_gradients_gib=round(state_bytes / GIB, 3),
        activations_memory_gib=round(activation_bytes / GIB, 3),
        available_memory_gib=round(available_gib, 3),
        feasible=feasible,
        infeasible_reason=reason,
        est_training_hours=round(train_s / 3600, 4),
        est_gpu_hours=round(train_s * gpus / 3600, 4),
        artifact_size_mib_per_task=round(artifact_mib, 4),
        serving_memory_gib=round(serving_gib, 3),
        extra_tokens_per_request=extra_tokens,
    )


def estimate_costs(situation: Situation, kb: KnowledgeBase) -> dict[str, MethodCost]:
    shape = estimate_shape(situation, kb)
    return {method: estimate_cost(method, situation, kb, shape) for method in kb.methods}
