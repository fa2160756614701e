"""Decoder LLMs (causal LMs) as first-class probe targets.

- ``label_likelihood``: classification through the LM head (each label's tokens scored after an instruction),
  the one scorer for zero-shot, few-shot and every trained method on a decoder;
- ``in_context``: measured few-shot prompting with k balanced demonstrations sized to the context window;
- ``generation_metrics``: exact match, ROUGE-L and completion loss on capped greedy generations;
- ``trials``: the suite's steps for decoders (prompting trials, evaluators, architecture facts for proxy labelling).

``import probes.decoder`` stays light: torch and transformers load inside the functions that need them.
"""
