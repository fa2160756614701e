"""Shared pieces of the cost model: the result models, the model-shape estimate, the per-method settings read
from knowledge/recipes.yaml, and the memory / time arithmetic every family module uses.

Formulas only (no weights are loaded, no torch). Every constant comes from knowledge/costs.yaml.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from advisor.knowledge import KnowledgeBase, MethodSpec, ModelShape
from advisor.situation import ModelAccess, Situation
from knowledge.errors import KnowledgeBaseError

GIB = 1024**3
_FROZEN = ConfigDict(frozen=True, extra="forbid")
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


class ModelShapeEstimate(BaseModel):
    model_config = _FROZEN
    params_b: float
    hidden: int
    layers: int
    intermediate: int
    kv_hidden: int = Field(default=0, description="Width of the key/value projections (0: same as hidden).")
    vocab: int = 0
    origin: str = Field(description="'model config <name>', 'nearest published shape (<params>B)' or 'given'.")

    @property
    def kv_width(self) -> int:
        return self.kv_hidden or self.hidden


class MethodSettings(BaseModel):
    """The numbers one method's cost rests on: its recipe's adapter settings and training assumptions."""

    model_config = _FROZEN
    seq_len_tokens: int
    micro_batch_size: int = Field(ge=1)
    gradient_checkpointing: bool
    optimizer: str = Field(description="A key of costs.yaml optimizers.")
    base_weights_dtype: str = Field(description="Dtype of the frozen base in memory: bf16, int8 or nf4.")
    optimizer_offload: bool = Field(default=False, description="Optimizer state and gradients kept in CPU memory.")
    sharded_over_gpus: int = Field(default=1, description="GPUs the weights and optimizer state are sharded over (FSDP / ZeRO-3).")
    lora_rank: int = 0
    target_modules: tuple[str, ...] = ()
    feedforward_modules: tuple[str, ...] = ()
    virtual_tokens: int = 0
    in_context_examples: int = 0


class MethodCost(BaseModel):
    model_config = _FROZEN
    method: str
    trainable_params: int
    training_memory_gib: float = Field(description="Peak training memory under `assumptions` (the recipe's setting, or the fallback the feasibility verdict rests on).")
    recipe_training_memory_gib: float = Field(description="Peak training memory under the method's own recipe (knowledge/recipes.yaml).")
    weights_memory_gib: float
    optimizer_and_gradients_gib: float
    activations_memory_gib: float
    available_memory_gib: float
    feasible: bool
    infeasible_reason: Optional[str] = None
    feasibility_note: Optional[str] = Field(default=None, description="Which assumption the verdict rests on when the recipe's own setting does not fit.")
    assumptions: MethodSettings = Field(description="Micro-batch, checkpointing, optimizer, quantisation, sequence length and adapter settings behind the numbers.")
    est_training_hours: float = Field(description="Estimated wall time of a full training run on the user's GPUs (default epochs).")
    est_gpu_hours: float
    artifact_size_mib_per_task: float
    serving_memory_gib: float = Field(description="Memory to serve all n_tasks from one deployment.")
    extra_tokens_per_request: int


@dataclass(frozen=True)
class CostContext:
    """Everything a family module may read."""

    situation: Situation
    kb: KnowledgeBase
    spec: MethodSpec
    shape: ModelShapeEstimate
    settings: MethodSettings

    @property
    def n_params(self) -> float:
        return self.situation.model_params_b * 1e9

    @property
    def on_vendor(self) -> bool:
        return self.situation.model_access != ModelAccess.OPEN_WEIGHTS

    @property
    def recipe_peft(self) -> dict[str, Any]:
        return self.kb.recipes[self.spec.id.value].get("peft") or {}

    @property
    def recipe_peft_type(self) -> Optional[str]:
        return self.recipe_peft.get("peft_type")


@dataclass(frozen=True)
class FamilyPlan:
    """What a family module says about one method; the shared arithmetic turns it into memory, time and serving."""

    trainable_params: int
    artifact_params_per_task: int
    training: str = "backprop"  # "backprop" | "forward" (one frozen pass for features) | "none"
    trains_base: bool = False  # every weight is trained (no frozen copy)
    sequence_extra_tokens: int = 0  # virtual tokens inside the sequence
    extra_activation_bytes_per_token_per_layer: float = 0.0  # saved inside each layer (recomputed with checkpointing)
    flops_per_param_token: float = 0.0
    epochs: int = 0
    serving_base_copies: int = 1
    serves_artifacts: bool = True
    extra_tokens_per_request: int = 0


@dataclass(frozen=True)
class MemoryBreakdown:
    weights: float
    states: float
    activations: float
    overhead: float

    @property
    def total_gib(self) -> float:
        return (self.weights + self.states + self.activations) / GIB + self.overhead


# ---- the model shape -------------------------------------------------------------------------------------------

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
        intermediate=nearest.intermediate, kv_hidden=nearest.kv_hidden or 0, vocab=nearest.vocab,
        origin=f"nearest published shape ({nearest.params_b:g}B)",
    )


def _first_attr(config: Any, *names: str) -> Any:
    return next((getattr(config, n) for n in names if getattr(config, n, None)), None)


@lru_cache(maxsize=64)
def _shape_from_config(model_name: str) -> Optional[ModelShapeEstimate]:
    """Read the model's config (never its weights); cached, since counterfactual re-runs ask again."""
    try:
        from transformers import AutoConfig  # lazy: only when a model is named

        config = AutoConfig.from_pretrained(model_name, trust_remote_code=False)
    except Exception:  # noqa: BLE001 - offline or unknown model: fall back to the published-shape table
        return None
    config = getattr(config, "text_config", None) or config
    hidden = _first_attr(config, "hidden_size", "n_embd", "d_model")
    layers = _first_attr(config, "num_hidden_layers", "n_layer", "num_layers")
    if not hidden or not layers:
        return None
    intermediate = _first_attr(config, "intermediate_size", "n_inner", "d_ff") or 4 * hidden
    heads = _first_attr(config, "num_attention_heads", "n_head") or 1
    kv_heads = _first_attr(config, "num_key_value_heads") or heads
    head_dim = _first_attr(config, "head_dim") or hidden // heads
    vocab = getattr(config, "vocab_size", 0) or 0
    params = 12 * layers * hidden * hidden + vocab * hidden
    return ModelShapeEstimate(params_b=params / 1e9, hidden=hidden, layers=layers, intermediate=intermediate,
                              kv_hidden=kv_heads * head_dim, vocab=vocab, origin=f"model config {model_name}")


def projection_dims(shape: ModelShapeEstimate) -> dict[str, tuple[int, int]]:
    """(in_features, out_features) of the linear layers of one block, by their Llama-style module names."""
    h, kv, f = shape.hidden, shape.kv_width, shape.intermediate
    return {"q_proj": (h, h), "k_proj": (h, kv), "v_proj": (h, kv), "o_proj": (h, h),
            "gate_proj": (h, f), "up_proj": (h, f), "down_proj": (f, h)}


def linear_params_per_layer(shape: ModelShapeEstimate) -> int:
    return sum(i * o for i, o in projection_dims(shape).values())


# ---- per-method settings from the recipe -----------------------------------------------------------------------

def _expand_targets(targets: Any, method: str) -> tuple[str, ...]:
    if targets in (None, (), []):
        return ()
    names = ALL_LINEAR if targets == "all-linear" else tuple(targets)
    unknown = [n for n in names if n not in ALL_LINEAR]
    if unknown:
        raise KnowledgeBaseError(f"recipes.yaml {method}: target_modules {unknown} are not among {list(ALL_LINEAR)} (or 'all-linear')")
    return names


def method_settings(method: str, situation: Situation, kb: KnowledgeBase, overrides: Optional[dict[str, Any]] = None) -> MethodSettings:
    """The method's numbers from its recipe (one source of truth for costs and recipes), then any overrides."""
    recipe, spec = kb.recipes[method], kb.methods[method]
    blocks = [recipe.get(key) or {} for key in ("peft", "peft_domain", "peft_per_task")]

    def first(key: str, default: Any) -> Any:
        return next((block[key] for block in blocks if key in block), default)

    quantization = recipe.get("quantization") or {}
    dtype = "nf4" if quantization.get("load_in_4bit") else "int8" if quantization.get("load_in_8bit") else "bf16"
    values: dict[str, Any] = dict(
        seq_len_tokens=situation.seq_len_tokens,
        micro_batch_size=recipe.get("micro_batch_size", kb.costs.feasibility_micro_batch),
        gradient_checkpointing=recipe.get("gradient_checkpointing", True),
        optimizer=recipe.get("optimizer", "adamw"), base_weights_dtype=dtype,
        sharded_over_gpus=max(situation.n_gpus, 1), lora_rank=first("r", 0),
        target_modules=first("target_modules", ()), feedforward_modules=tuple(first("feedforward_modules", ())),
        virtual_tokens=first("num_virtual_tokens", 0),
        in_context_examples=recipe.get("in_context_examples", spec.in_context_examples),
    )
    values.update(overrides or {})
    values["target_modules"] = _expand_targets(values["target_modules"], method)
    settings = MethodSettings(**values)
    if settings.optimizer not in kb.costs.optimizers:
        raise KnowledgeBaseError(f"{method}: optimizer {settings.optimizer!r} is not a key of costs.yaml optimizers {sorted(kb.costs.optimizers)}")
    if settings.base_weights_dtype not in kb.costs.bytes_per_param:
        raise KnowledgeBaseError(f"{method}: base dtype {settings.base_weights_dtype!r} is not a key of costs.yaml bytes_per_param")
    return settings


# ---- memory and time arithmetic --------------------------------------------------------------------------------

def frozen_weight_bytes(ctx: CostContext, frozen_params: float, dtype: str) -> float:
    """Quantisation applies to the blocks' linear layers; embeddings, norms and the head stay in bf16."""
    per_param = ctx.kb.costs.bytes_per_param
    if dtype == "bf16":
        return frozen_params * per_param["bf16"]
    quantized = min(frozen_params, ctx.shape.layers * linear_params_per_layer(ctx.shape))
    return quantized * per_param[dtype] + (frozen_params - quantized) * per_param["bf16"]


def activation_bytes(ctx: CostContext, plan: FamilyPlan, settings: MethodSettings) -> float:
    """Saved activations per micro-batch: every layer's (or, with checkpointing, each layer's input plus one
    layer recomputed), plus the logits at the loss, plus what the family keeps on top (e.g. DoRA)."""
    c, shape = ctx.kb.costs, ctx.shape
    tokens = settings.micro_batch_size * (settings.seq_len_tokens + plan.sequence_extra_tokens)
    full_layer = c.activation_bytes_per_token_per_hidden * shape.hidden
    if plan.training != "backprop":
        return tokens * full_layer  # a forward pass holds about one layer's activations at a time
    full_layer += plan.extra_activation_bytes_per_token_per_layer
    if settings.gradient_checkpointing:
        layer_bytes = shape.layers * c.checkpointed_activation_bytes_per_token_per_hidden * shape.hidden + full_layer
    else:
        layer_bytes = shape.layers * full_layer
    logits = (shape.vocab or c.default_vocab) * c.logits_bytes_per_token_per_vocab
    return tokens * (layer_bytes + logits)


def training_memory(ctx: CostContext, plan: FamilyPlan, settings: MethodSettings) -> MemoryBreakdown:
    c = ctx.kb.costs
    if plan.training != "backprop":
        weights = frozen_weight_bytes(ctx, ctx.n_params, settings.base_weights_dtype)
        return MemoryBreakdown(weights, 0.0, activation_bytes(ctx, plan, settings), c.fixed_overhead_gib)
    optimizer = c.optimizers[settings.optimizer]
    trainable = plan.trainable_params
    frozen = 0.0 if plan.trains_base else ctx.n_params
    weights = frozen_weight_bytes(ctx, frozen, settings.base_weights_dtype) + trainable * optimizer.weight
    states = 0.0 if settings.optimizer_offload else trainable * (optimizer.gradient + optimizer.state)
    return MemoryBreakdown(weights, states, activation_bytes(ctx, plan, settings), c.fixed_overhead_gib)


def training_seconds(ctx: CostContext, plan: FamilyPlan, settings: MethodSettings) -> tuple[float, int]:
    """Wall seconds of a full run and the number of GPUs it occupies."""
    c, situation = ctx.kb.costs, ctx.situation
    tokens = situation.n_labeled_examples * (settings.seq_len_tokens + plan.sequence_extra_tokens) * plan.epochs
    if situation.gpu_memory_gb > 0 and situation.n_gpus > 0:
        flops_per_s, gpus = situation.n_gpus * c.reference_gpu_peak_tflops * 1e12 * c.reference_model_flops_utilisation, situation.n_gpus
    else:
        flops_per_s, gpus = c.cpu_effective_tflops * 1e12, 0
    factor = c.method_time_factors.get(ctx.spec.id.value, 1.0)
    return plan.flops_per_param_token * ctx.n_params * tokens * factor / flops_per_s, gpus


def serving_gib(ctx: CostContext, plan: FamilyPlan, settings: MethodSettings) -> float:
    if ctx.on_vendor:
        return 0.0
    base = frozen_weight_bytes(ctx, ctx.n_params, settings.base_weights_dtype) / GIB
    artifacts = ctx.situation.n_tasks * artifact_mib(ctx, plan) / 1024 if plan.serves_artifacts else 0.0
    return base * plan.serving_base_copies + artifacts


def artifact_mib(ctx: CostContext, plan: FamilyPlan) -> float:
    return plan.artifact_params_per_task * ctx.kb.costs.bytes_per_param["bf16"] / 2**20


def lora_params(ctx: CostContext) -> int:
    """A (in x r) and B (r x out) per adapted linear layer, every block."""
    dims = projection_dims(ctx.shape)
    rank = ctx.settings.lora_rank
    return ctx.shape.layers * sum(rank * (dims[m][0] + dims[m][1]) for m in ctx.settings.target_modules)


def adapted_output_features(ctx: CostContext) -> int:
    """Output features of the adapted linear layers of one block."""
    dims = projection_dims(ctx.shape)
    return sum(dims[m][1] for m in ctx.settings.target_modules)


def frozen_base_plan_fields(ctx: CostContext) -> dict[str, Any]:
    """Defaults for a family that trains small parameters over a frozen base by backpropagation."""
    c = ctx.kb.costs
    return dict(training="backprop", flops_per_param_token=c.frozen_base_flops_per_param_token, epochs=c.default_epochs)
