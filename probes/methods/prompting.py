"""Prompting without training. Encoders: zero-shot by cosine similarity of each text's embedding to each label
name's embedding. Decoders (causal LMs): zero-shot and measured few-shot through the LM head (probes.decoder)."""
from __future__ import annotations

from typing import Any, Sequence

from knowledge.method import Method

METHODS = (Method.ZERO_SHOT, Method.FEW_SHOT)


def _unit_rows(matrix):
    import numpy as np

    return matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)


def embedding_similarity_predictions(model: Any, tokenizer: Any, data: Any, features, label_names: Sequence[str],
                                     batch_size: int, device: str):
    """Encoders' zero-shot: the label whose name's mean-pooled embedding is closest (cosine) to the text's."""
    from probes.batches import EncodedData
    from probes.methods.head import frozen_features

    names = tokenizer(list(label_names), add_special_tokens=True)["input_ids"]
    label_data = EncodedData("classification", names, list(range(len(names))), data.pad_token_id, data.padding_side)
    label_vectors = frozen_features(model, label_data, list(range(len(names))), batch_size, device)
    return (_unit_rows(features) @ _unit_rows(label_vectors).T).argmax(1)
