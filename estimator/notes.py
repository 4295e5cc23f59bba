"""Warnings as data: each has a code from a closed set, so scripts need not match the sentence.

A warning is made with its code where it is raised; ``--json`` shows both (``{"code", "message"}``).
"""

from __future__ import annotations

import re
from typing import Literal

from estimator.spec import Frozen

WarningCode = Literal[
    "config",  # what reading the model's config or checkpoint found (an unknown type, a mismatch)
    "source",  # where the model came from: a renamed repo, a GGUF file, a cached copy
    "context_window_exceeded",  # s is longer than the model's context window
    "kv_dtype_not_stored",  # the engine keeps the KV cache in another dtype than kv= asks
    "state_layers_not_modelled",  # an engine's term leaves out state-space (Mamba) layers (older answers)
    "state_scan_torch_path",  # Mamba layers sized as transformers' PyTorch scan runs them (no mamba-ssm)
    "layer_split",  # transformers places whole layers per GPU: the busiest GPU decides
    "kv_off_allocates",  # kv=off, but the engine allocates a KV cache anyway
    "kv_page_padding",  # vLLM pads KV pages of different sizes to the largest
    "hybrid_kv_manager_off",  # vLLM caches sliding / chunked layers whole (its hybrid KV cache manager is off)
    "pre_quantized_needed",  # a quantized format the engines do not convert to on load
    "setting_ignored",  # a setting the chosen engine does not read
    "no_bf16",  # the GPU has no bf16
    "rope_scaling",  # yarn=: the RoPE scaling asked for, and the vLLM override that gives it
    "dequantized",  # the engine loads quantized weights dequantized on this GPU (transformers: FP8 below sm_89)
    "dtype_cast",  # the engine serves the checkpoint in another dtype than it is stored in (vLLM: float32 in 16 bits)
    "no_gpu_given",  # a figure that needs gpu=
    "no_kv_pool",  # vLLM would not start: nothing is left for the KV pool
    "classic_formula",  # where the original formula is off, and by how much
    "fused_attention_always",  # fa=off changes nothing with this engine
    "eager_by_default",  # fa= unsaid: transformers runs this model class with eager attention (no sdpa)
    "fused_needs_attn_implementation",  # fa=on: the model class runs fused attention only when asked for it
    "attention_support_unread",  # vram's table of transformers' model classes lacks the model type
    "batch_queued",  # b is more than the engine runs at once
    "eager",  # vLLM eager=on (--enforce-eager): no CUDA graphs, no torch.compile
    "experts_uneven",  # ep=on: the routed experts do not split evenly over tp x dp GPUs
    "engine_refuses",  # the engine will not start this configuration
    "vllm_release",  # the vLLM release asked for is not one vram follows: the nearest one is used
    "vllm_dev_build",  # a vLLM build past X.Y.0 (a nightly): sized with X.Y's rules
    "max_model_len_refused",  # vLLM's start-up check: one request of s tokens does not fit its KV pool
    "unified_memory",  # the GPU's memory is the system's: less of it is free than the device total
    "util_caps_kv_cache",  # vLLM 0.34+: util below 1 keeps free memory out of its extensible KV cache
    "cold_compile",  # vLLM 0.27+: the b requests fit only a start whose torch.compile cache is warm
    "sliding_batches",  # vLLM: sliding layers reserve two default batches; a smaller mnbt holds more requests
    "sampler_seqs",  # vLLM: the sampler warm-up over the default max_num_seqs sets the peak; fewer seqs hold more
    "unclassified",  # a warning stored before warnings had codes
]


class Note(Frozen):
    """One warning: its code and the sentence people read."""

    code: WarningCode
    message: str


def note(code: WarningCode, message: str) -> Note:
    return Note(code=code, message=message)


# Lowercase names read letter by letter (an awq, an mlp_speculator); anything in capitals or with a
# digit in it is read so too (an FP8, an NVFP4, an eagle3).
_SPELLED = frozenset({"awq", "gptq", "hqq", "gguf", "mla", "mlp", "nf", "fp", "bf", "mx", "nv", "exl"})


def article(word: str) -> str:
    """ "a" or "an" before a name as it is read aloud: an AWQ, an FP8, an 8-bit, a GPTQ, a bf16, an
    eagle drafter, a medusa drafter."""
    w = word.lower()
    if w[:1].isdigit():
        return "an" if w.startswith(("8", "11", "18")) else "a"
    head = re.match(r"[a-z]*", w)
    first = head.group(0) if head else ""
    if word.isupper() or any(c.isdigit() for c in w) or first in _SPELLED:
        # Letter names that start with a vowel sound: A, E, F, H, I, L, M, N, O, R, S, X.
        return "an" if w[:1] in set("aefhilmnorsx") else "a"
    return "an" if w[:1] in set("aeiou") else "a"
