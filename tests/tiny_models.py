"""Tiny randomly initialised models (2 layers, width 64) with a real word-level tokenizer, saved to disk.

Right for testing plumbing (loading, training loops, statuses, caching); useless for judging quality.
"""
from __future__ import annotations

from pathlib import Path

WORDS = ("the a an is was good bad great awful fine okay love hate movie food service day night very not "
         "happy sad angry calm fast slow car road city price cheap expensive yes no maybe answer question").split()


def _tokenizer(padding_side: str):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[EOS]"]
    vocab = {tok: i for i, tok in enumerate(specials + WORDS)}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                                   sep_token="[SEP]", eos_token="[EOS]", padding_side=padding_side)


def tiny_bert(directory: Path) -> Path:
    from transformers import BertConfig, BertForSequenceClassification

    tokenizer = _tokenizer("right")
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=128, max_position_embeddings=256, pad_token_id=0)
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def tiny_llama(directory: Path) -> Path:
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = _tokenizer("left")
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                         num_key_value_heads=2, intermediate_size=128, max_position_embeddings=256,
                         pad_token_id=0, eos_token_id=tokenizer.eos_token_id, bos_token_id=2)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def sentiment_rows(n: int, seed: int = 0) -> list[dict]:
    import random

    rng = random.Random(seed)
    positive, negative = ["good", "great", "love", "happy", "fine"], ["bad", "awful", "hate", "sad", "angry"]
    rows = []
    for i in range(n):
        label = "pos" if i % 2 == 0 else "neg"
        words = rng.sample(WORDS[:20], 4) + [rng.choice(positive if label == "pos" else negative)]
        rng.shuffle(words)
        rows.append({"text": " ".join(words) + f" {i % 7}", "label": label})
    return rows
