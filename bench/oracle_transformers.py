"""Oracle: what transformers itself builds for every causal-LM and image-text-to-text model type.

Not installed, not run in CI. Needs torch (CPU) and transformers in a venv of its own:

    python3.11 -m venv /work/oracle-venv
    /work/oracle-venv/bin/pip install torch==2.13.0 transformers==5.25.0
    nice -n 10 /work/oracle-venv/bin/python bench/oracle_transformers.py \
        --out tests/fixtures/oracle/transformers-5.25.json

Types whose tower is a timm model (fast_vlm, perception_lm, gemma3n) need timm, and timm needs a
torchvision that imports: torchvision 0.29.1 beside torch 2.14.1 in a second venv, run with
``--types``; the records it merges say which torch made them.

For each model type of ``MODEL_FOR_CAUSAL_LM_MAPPING_NAMES`` and
``MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES`` it records:

- the config used (the default ``AutoConfig.for_model(type)``, or the published config of a real
  checkpoint where the default is a placeholder no checkpoint uses), written to
  ``configs/<type>.json`` beside the fixture;
- parameters of the model class of each mapping built on the meta device (tied tensors once),
  persistent buffers, and a breakdown by module-name prefix (text stack, vision, audio, projector,
  embeddings, lm_head; routed experts and the active parameters derived from top-k);
- the cache transformers builds in a real CPU forward (batch 1, ``use_cache=True``) at two prompt
  lengths, with the config shrunk where the cache does not depend on it: bytes per token, fixed
  bytes per sequence, and per layer the cache class, tensors (shape, dtype) and window.
  A second pair of runs with every sliding / chunk window set to ``WINDOW_PROBE`` shows the caps.

Each type runs in a forked child with a timeout; failures are recorded as one sentence.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import torch
import transformers
from transformers import AutoConfig
from transformers.models.auto import modeling_auto

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_OUT = REPO / "tests" / "fixtures" / "oracle" / "transformers-5.25.json"

LENGTHS = (32, 64)
# Types whose cache grows in blocks larger than the default lengths (compressed attention every
# 4 / 128 tokens in DeepSeek-V4): lengths that are whole multiples of the largest block.
LENGTHS_BY_TYPE: dict[str, tuple[int, int]] = {"deepseek_v4": (256, 512)}
WINDOW_PROBE = 8
# Shrunk widths: none of these sizes enters a per-token cache tensor.
SMALL_VOCAB = 1024
SMALL_WIDTH = 64
SMALL_EXPERTS = 4
SMALL_HIDDEN = 256

# Published configs used instead of a placeholder default (published/SOURCES.json): type -> entry
# with the source URL and either "file" (a checkpoint's config.json under published/) or
# "overrides" (the fields of a real checkpoint that the default lacks, applied to the default).
PUBLISHED: dict[str, dict[str, Any]] = {}


def _load_published() -> None:
    src = REPO / "tests" / "fixtures" / "oracle" / "published" / "SOURCES.json"
    if src.exists():
        for model_type, entry in json.loads(src.read_text()).items():
            PUBLISHED[model_type] = entry


# ---------------------------------------------------------------------------------------------
# configs


def mappings() -> dict[str, list[str]]:
    """Model type -> the mapping names it appears in."""
    out: dict[str, list[str]] = {}
    for name in ("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"):
        for model_type in getattr(modeling_auto, name):
            out.setdefault(model_type, []).append(name)
    return out


def build_config(model_type: str) -> tuple[Any, dict[str, Any]]:
    """The config to use and where it came from."""
    if model_type in PUBLISHED:
        entry = PUBLISHED[model_type]
        if "overrides" in entry:
            # the default with the few fields a real checkpoint sets and the default lacks
            cfg = AutoConfig.for_model(model_type, **entry["overrides"])
            return cfg, dict(entry, kind="default_with_published_fields")
        raw = json.loads((REPO / "tests" / "fixtures" / "oracle" / "published" / entry["file"]).read_text())
        raw.pop("model_type", None)
        cfg = AutoConfig.for_model(model_type, **raw)
        return cfg, dict(entry, kind="published", file=f"published/{entry['file']}")
    return AutoConfig.for_model(model_type), {"kind": "default"}


def config_dict(cfg: Any) -> dict[str, Any]:
    d = cfg.to_dict()
    d["model_type"] = cfg.model_type
    return d


def text_config(cfg: Any) -> Any:
    try:
        return cfg.get_text_config(decoder=True)
    except Exception:
        return cfg


def sub_configs(cfg: Any) -> list[Any]:
    """The config and every nested config object (each once)."""
    seen: list[Any] = []
    stack = [cfg]
    while stack:
        c = stack.pop()
        if any(c is s for s in seen):
            continue
        seen.append(c)
        for v in vars(c).values():
            if isinstance(v, transformers.PreTrainedConfig):
                stack.append(v)
    return seen


# ---------------------------------------------------------------------------------------------
# parameters on the meta device


VISION = re.compile(
    r"(^|\.)(vision|visual|vision_tower|vision_model|vision_encoder|image_encoder|vit|siglip|"
    r"vqmodel|vq_model|img_|image_|patch_embed|vision_embed|vision_backbone|sam_model|"
    r"qformer|query_tokens|video_)"
)
AUDIO = re.compile(r"(^|\.)(audio|speech|whisper|sound|mel_|audio_tower|audio_encoder|audio_embed)")
PROJECTOR = re.compile(
    r"(^|\.)(multi_modal_projector|mm_projector|projector|connector|aligner|mlp1|"
    r"vision_projection|image_projection|embed_vision|embed_audio|language_projection|adapter)"
)
LM_HEAD = re.compile(r"(^|\.)(lm_head|embed_out|output_layer)(\.|$)")
EMBED = re.compile(
    r"(^|\.)(embed_tokens|embed_tokens_per_layer|wte|wpe|word_embeddings|embed_in|"
    r"position_embeddings|embed_positions|tok_embeddings|embedding)(\.|$)"
)
EXPERTS = re.compile(r"(^|\.)experts(\.|$)")
TOP_K_KEYS = ("num_experts_per_tok", "moe_topk", "num_experts_per_token", "moe_top_k", "top_k", "moe_k")


def category(name: str) -> str:
    n = name.lower()
    if PROJECTOR.search(n):
        return "projector"
    if AUDIO.search(n):
        return "audio"
    if VISION.search(n):
        return "vision"
    if LM_HEAD.search(n):
        return "lm_head"
    if EMBED.search(n):
        return "embeddings"
    return "text"


def _get(cfg: Any, key: str) -> Any:
    """A config attribute, or None where it is missing or only defined per layer."""
    try:
        return getattr(cfg, key, None)
    except Exception:
        return None


def top_k_of(tcfg: Any) -> int | None:
    for key in TOP_K_KEYS:
        v = _get(tcfg, key)
        if isinstance(v, int) and v > 0:
            return v
    return None


def count_params(model: torch.nn.Module, tcfg: Any) -> dict[str, Any]:
    total = 0
    breakdown: dict[str, int] = {}
    routed = 0
    routed_groups: dict[str, dict[str, Any]] = {}
    for name, p in model.named_parameters():  # remove_duplicate=True: a tied tensor once
        n = p.numel()
        total += n
        cat = category(name)
        breakdown[cat] = breakdown.get(cat, 0) + n
        if cat == "text" and EXPERTS.search(name) and "shared_expert" not in name:
            routed += n
            # experts of one layer: the module path up to ".experts"
            parent = name[: name.index("experts") + len("experts")]
            g = routed_groups.setdefault(parent, {"params": 0, "experts": 0, "indices": set()})
            g["params"] += n
            rest = name[len(parent) + 1 :]
            first = rest.split(".")[0]
            if first.isdigit():
                g["indices"].add(int(first))
            elif p.dim() >= 3:
                g["experts"] = max(g["experts"], p.shape[0])
    buffers = 0
    for mod in model.modules():
        for b_name, b in mod._buffers.items():
            if b is None or b_name in mod._non_persistent_buffers_set:
                continue
            buffers += b.numel()
    out: dict[str, Any] = {"total": total, "breakdown": dict(sorted(breakdown.items())), "persistent_buffers": buffers}
    if routed:
        out["routed_experts"] = routed
        k = top_k_of(tcfg)
        active = total - routed
        exact = True
        layers_e = []
        for g in routed_groups.values():
            e = max(g["experts"], len(g["indices"]))
            layers_e.append(e)
            if k is None or e == 0:
                exact = False
                continue
            num = g["params"] * min(k, e)
            if num % e:
                exact = False
            active += num // e
        out["moe_layers"] = len(routed_groups)
        out["experts_per_layer"] = sorted(set(layers_e))
        out["top_k"] = k
        if k is not None and exact:
            out["active"] = active
            out["active_rule"] = "total - routed experts + routed experts * top_k / experts, per MoE layer"
    return out


def model_classes(model_type: str, in_maps: list[str]) -> dict[str, Any]:
    out = {}
    for m in in_maps:
        auto = (
            transformers.AutoModelForCausalLM
            if m == "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES"
            else transformers.AutoModelForImageTextToText
        )
        out[m] = auto
    return out


def meta_params(cfg: Any, auto: Any) -> dict[str, Any]:
    with torch.device("meta"):
        model = auto.from_config(cfg)
    res = count_params(model, text_config(cfg))
    res["class"] = type(model).__name__
    res["tied_embeddings"] = tied(model)
    return res


def tied(model: torch.nn.Module) -> bool | None:
    try:
        out_emb = model.get_output_embeddings()
        in_emb = model.get_input_embeddings()
    except Exception:
        return None
    if out_emb is None or in_emb is None:
        return None
    return out_emb.weight is in_emb.weight


# ---------------------------------------------------------------------------------------------
# shrinking

MLP_WIDTH_KEYS = (
    "moe_intermediate_size",
    "shared_expert_intermediate_size",
    "expert_intermediate_size",
    "ffn_hidden_size",
    "moe_ffn_hidden_size",
    "dense_intermediate_size",
    "intermediate_size_mlp",
    "expert_ffn_hidden_size",
)
EXPERT_COUNT_KEYS = (
    "num_experts",
    "n_routed_experts",
    "num_local_experts",
    "moe_num_experts",
    "num_routed_experts",
)
SSM_HINT = re.compile(r"mamba|ssm|state_size|expand|conv_kernel|d_conv|linear_|conv_L|xlstm|rwkv|recurrent|lru")


def has_ssm(tcfg: Any) -> bool:
    return any(SSM_HINT.search(k) for k in tcfg.to_dict())


def shrink(cfg: Any, level: int) -> list[str]:
    """Shrink the text config in place. Level -1: nothing; 0: vocabulary; 1: + MLP / expert widths
    and counts; 2: + hidden size (only where head sizes are explicit and no state depends on it)."""
    done: list[str] = []
    if level < 0:
        return done
    tcfg = text_config(cfg)
    for key in [k for k in tcfg.to_dict() if "vocab_size" in k]:
        v = _get(tcfg, key)
        if isinstance(v, int) and v > SMALL_VOCAB:
            setattr(tcfg, key, SMALL_VOCAB)
            done.append(key)
    if "vocab_size" in done:
        for key in ("pad_token_id",):
            pid = _get(tcfg, key)
            if isinstance(pid, int) and pid >= SMALL_VOCAB:
                setattr(tcfg, key, 0)
    if level < 1:
        return done
    ssm = has_ssm(tcfg)
    keys = list(MLP_WIDTH_KEYS) + ([] if ssm else ["intermediate_size", "ffn_dim", "n_inner"])
    for key in keys:
        val = _get(tcfg, key)
        if isinstance(val, int) and val > SMALL_WIDTH:
            setattr(tcfg, key, SMALL_WIDTH)
            done.append(key)
        elif isinstance(val, list) and val and all(isinstance(x, int) for x in val):
            setattr(tcfg, key, [min(x, SMALL_WIDTH) for x in val])
            done.append(key)
    for key in EXPERT_COUNT_KEYS:
        val = _get(tcfg, key)
        if isinstance(val, int) and val > SMALL_EXPERTS:
            setattr(tcfg, key, SMALL_EXPERTS)
            done.append(key)
            k = top_k_of(tcfg)
            for kk in TOP_K_KEYS:
                kv = _get(tcfg, kk)
                if isinstance(kv, int) and kv > SMALL_EXPERTS // 2:
                    setattr(tcfg, kk, SMALL_EXPERTS // 2)
            del k
            for gk in ("n_group", "topk_group", "num_expert_group", "topk_groups"):
                if isinstance(_get(tcfg, gk), int):
                    setattr(tcfg, gk, 1)
    if level < 2 or ssm:
        return done
    head_dim = _get(tcfg, "head_dim")
    mla = isinstance(_get(tcfg, "kv_lora_rank"), int)
    hidden = _get(tcfg, "hidden_size")
    if isinstance(hidden, int) and hidden > SMALL_HIDDEN and (isinstance(head_dim, int) or mla):
        tcfg.hidden_size = SMALL_HIDDEN
        done.append("hidden_size")
    q_lora = _get(tcfg, "q_lora_rank")
    if isinstance(q_lora, int) and q_lora > SMALL_WIDTH:
        tcfg.q_lora_rank = SMALL_WIDTH
        done.append("q_lora_rank")
    return done


def set_windows(cfg: Any, window: int) -> list[str]:
    done = []
    for c in sub_configs(cfg):
        for key in ("sliding_window", "attention_chunk_size"):
            v = _get(c, key)
            if isinstance(v, int) and v > window:
                setattr(c, key, window)
                done.append(key)
    return sorted(set(done))


# ---------------------------------------------------------------------------------------------
# a real forward with parameters shared by shape (memory of one tensor per distinct shape)


def share_parameters(model: torch.nn.Module, dtype: torch.dtype) -> int:
    pool: dict[tuple[tuple[int, ...], torch.dtype], torch.nn.Parameter] = {}
    gen = torch.Generator().manual_seed(0)
    # one random block tiled: cheap to fill even for large shapes
    base = torch.randn(1 << 16, generator=gen, dtype=torch.float32) * 0.02
    for mod in model.modules():
        for name, p in list(mod._parameters.items()):
            if p is None:
                continue
            key = (tuple(p.shape), p.dtype)
            if key not in pool:
                n = p.numel()
                reps = -(-n // base.numel()) if n else 1
                t = base.to(p.dtype).repeat(reps)[:n].view(p.shape)
                pool[key] = torch.nn.Parameter(t.clone(), requires_grad=False)
            mod._parameters[name] = pool[key]
    return sum(t.numel() * t.element_size() for t in pool.values())


def build_real(cfg: Any, auto: Any, dtype: torch.dtype) -> torch.nn.Module:
    from transformers.initialization import no_init_weights

    with no_init_weights():
        model = auto.from_config(cfg, dtype=dtype)
    model.eval()
    share_parameters(model, dtype)
    if hasattr(model, "set_default_language"):
        # a model with per-language adapters refuses input of no named language; every adapter
        # has the same shape, so the configured default (else the first language) serves
        languages = list(_get(cfg, "languages") or [])
        language = _get(cfg, "default_language") or (languages[0] if languages else None)
        if language is not None:
            model.set_default_language(language)
    return model


def avoid_ids(cfg: Any) -> set[int]:
    ids: set[int] = set()
    for c in sub_configs(cfg):
        for k, v in c.to_dict().items():
            if isinstance(v, int) and (k.endswith("_token_id") or k.endswith("_token_index") or k.endswith("_id")):
                ids.add(v)
    return ids


def prompt(cfg: Any, length: int) -> torch.Tensor:
    tcfg = text_config(cfg)
    vocab = _get(tcfg, "vocab_size") or SMALL_VOCAB
    bad = avoid_ids(cfg)
    allowed = [i for i in range(3, min(vocab, SMALL_VOCAB)) if i not in bad]
    gen = torch.Generator().manual_seed(length)
    idx = torch.randint(0, len(allowed), (1, length), generator=gen)
    return torch.tensor(allowed)[idx]


class NoCache(Exception):
    """The model keeps no cache (an encoder, or a decoder configured without one)."""


def find_cache(out: Any) -> Any:
    for key in ("cache", "past_key_values", "cache_params", "mems", "state"):
        v = getattr(out, key, None) if not isinstance(out, dict) else out.get(key)
        if v is not None:
            return v
    if isinstance(out, tuple) and len(out) > 1:
        return out[1]
    raise NoCache("the forward with use_cache=True returned no cache (the model as configured keeps none)")


SKIP_ATTRS = {"device", "dtype", "config", "_sliding_window_tensor", "layer_class_to_replicate", "prefetch_stream"}


def walk(obj: Any, path: str, out: dict[str, torch.Tensor], depth: int = 0) -> None:
    if depth > 6 or obj is None:
        return
    if isinstance(obj, torch.Tensor):
        out[path] = obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            walk(v, f"{path}.{k}" if path else str(k), out, depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            walk(v, f"{path}.{i}" if path else str(i), out, depth + 1)
    elif hasattr(obj, "__dict__") and not isinstance(obj, (type, torch.nn.Module)):
        for k, v in vars(obj).items():
            if k in SKIP_ATTRS:
                continue
            walk(v, f"{path}.{k}" if path else k, out, depth + 1)


def cache_layers(cache: Any) -> list[dict[str, Any]]:
    """One entry per cache layer (or one for a cache without layers)."""
    layers = getattr(cache, "layers", None)
    objs = list(layers) if isinstance(layers, list) and layers else [cache]
    # state a cache keeps beside its layers, in a list of its own indexed by layer (MiniMax's
    # linear_cache of the lightning-attention layers): counted with the layer it belongs to; a
    # last layer that keeps only such state has no entry in ``layers`` (None below)
    lists = {}
    if objs[0] is not cache:
        lists = {
            k: v
            for k, v in vars(cache).items()
            if k != "layers" and isinstance(v, list) and any(isinstance(x, torch.Tensor) for x in v)
        }
    count = max([len(objs), *(len(v) for v in lists.values())])
    beside: list[dict[str, torch.Tensor]] = [{} for _ in range(count)]
    for key, value in lists.items():
        for i, item in enumerate(value):
            walk(item, key, beside[i])
    res = []
    for i, layer in enumerate([*objs, *[None] * (count - len(objs))]):
        tensors: dict[str, torch.Tensor] = dict(beside[i])
        walk(layer, "", tensors)
        seen: set[tuple[int, tuple[int, ...], tuple[int, ...]]] = set()
        recs = {}
        total = 0
        for name, t in sorted(tensors.items()):
            if t.dim() == 0:  # bookkeeping counters (cumulative lengths)
                continue
            key = (t.data_ptr(), tuple(t.shape), tuple(t.stride()))
            nbytes = t.numel() * t.element_size()
            dup = key in seen and t.numel() > 0
            seen.add(key)
            recs[name] = {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""), "bytes": nbytes}
            if dup:
                recs[name]["shared_with_previous"] = True
            else:
                total += nbytes
        kind = type(layer).__name__ if layer is not None else f"{type(cache).__name__} state"
        entry: dict[str, Any] = {"index": i, "class": kind, "tensors": recs, "bytes": total}
        for attr in ("sliding_window", "max_cache_len", "conv_kernel_size", "number_of_states"):
            v = getattr(layer, attr, None)
            if isinstance(v, torch.Tensor):
                v = v.item() if v.numel() == 1 else None
            if isinstance(v, dict):
                v = {str(k): vv for k, vv in v.items() if vv is not None} or None
            if v is not None:
                entry[attr] = v
        res.append(entry)
    return res


def language_model(model: torch.nn.Module) -> torch.nn.Module | None:
    for path in ("language_model", "model.language_model", "text_decoder", "model.text_model", "text_model"):
        obj: Any = model
        for part in path.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, torch.nn.Module):
            return obj
    return None


def set_unused_window(model: torch.nn.Module) -> bool:
    """Give every config whose layers are all full attention and whose sliding_window is unset a
    window as long as its context; False where there is none such."""
    changed = False
    for c in sub_configs(model.config):
        kinds = _get(c, "layer_types")
        if not isinstance(kinds, list) or not kinds or any("sliding" in str(k) for k in kinds):
            continue
        if "sliding_window" in c.to_dict() and _get(c, "sliding_window") is None:
            c.sliding_window = _get(c, "max_position_embeddings") or 1 << 20
            changed = True
    return changed


def blank_image(model: torch.nn.Module, cfg: Any, ids: torch.Tensor) -> dict[str, torch.Tensor] | None:
    """Inputs of one blank image for a forward that requires one, or None where the forward takes
    no pixel_values. Where the forward takes a per-token image mask, no token attends to the image."""
    import inspect

    params = inspect.signature(model.forward).parameters
    vcfg = _get(cfg, "vision_config")
    if "pixel_values" not in params or vcfg is None:
        return None
    size = _get(vcfg, "image_size")
    size = size[0] if isinstance(size, (list, tuple)) else size
    channels = _get(vcfg, "num_channels") or 3
    if not isinstance(size, int):
        return None
    if "image_attention_mask" in params:
        # images per sample, and for every text token the images it attends to
        pixels = torch.zeros(1, 1, channels, size, size, dtype=model.dtype)
        return {"pixel_values": pixels, "image_attention_mask": torch.zeros(1, ids.shape[1], 1, dtype=torch.long)}
    return {"pixel_values": torch.zeros(1, channels, size, size, dtype=model.dtype)}


@torch.inference_mode()
def measure(cfg: Any, auto: Any, lengths: tuple[int, int], dtype: torch.dtype = torch.bfloat16) -> dict[str, Any]:
    model = build_real(cfg, auto, dtype)
    runs = []
    forward_on = "model"
    for length in lengths:
        ids = prompt(cfg, length)
        try:
            try:
                out = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True)
            except ValueError as exc:
                # a forward that builds a sliding-window mask though no layer slides: any window
                # serves, since no layer reads that mask
                if "sliding_window" not in str(exc) or not set_unused_window(model):
                    raise
                forward_on = "model, with a sliding_window no layer uses"
                out = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True)
        except Exception as first:
            # a model whose forward requires an image (or other inputs): its language model on the
            # text alone builds the same text cache; a model with no separate language model gets
            # one blank image that no text token attends to
            lm = language_model(model)
            if lm is not None and lm is not model:
                forward_on = "language_model"
                out = lm(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True)
            else:
                extra = blank_image(model, cfg, ids)
                if extra is None:
                    raise first
                forward_on = "model with a blank image"
                out = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True, **extra)
        cache = find_cache(out)
        runs.append((length, type(cache).__name__, cache_layers(cache)))
        del out, cache
    (l1, _, a), (l2, cls2, b) = runs
    if len(a) != len(b):
        raise RuntimeError(f"the cache has {len(a)} layers at {l1} tokens and {len(b)} at {l2}")
    layers = []
    per_token_total = 0
    fixed_total = 0
    exact = True
    for la, lb in zip(a, b, strict=True):
        diff = lb["bytes"] - la["bytes"]
        dn = l2 - l1
        per_tok = diff // dn
        if diff % dn:
            exact = False
        fixed = la["bytes"] - per_tok * l1
        entry = dict(lb)
        entry["bytes_at"] = {str(l1): la["bytes"], str(l2): lb["bytes"]}
        entry["bytes_per_token"] = per_tok
        entry["fixed_bytes"] = fixed
        entry.pop("bytes")
        layers.append(entry)
        per_token_total += per_tok
        fixed_total += fixed
    dtype = sorted({t["dtype"] for la in layers for t in la["tensors"].values()})
    return {
        "num_layers": len(layers),
        "forward_on": forward_on,
        "cache_class": cls2,
        "lengths": list(lengths),
        "bytes_at": {str(l1): sum(x["bytes"] for x in a), str(l2): sum(x["bytes"] for x in b)},
        "bytes_per_token": per_token_total,
        "fixed_bytes_per_sequence": fixed_total,
        "per_token_exact": exact,
        "tensor_dtypes": dtype,
        "model_dtype": str(model.dtype).replace("torch.", ""),
        "layer_groups": group_layers(layers),
        "_layers": layers,
    }


def group_layers(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Identical layers once, with the indices of the layers they describe."""
    groups: dict[str, dict[str, Any]] = {}
    for la in layers:
        body = {k: v for k, v in la.items() if k != "index"}
        key = json.dumps(body, sort_keys=True, default=str)
        g = groups.setdefault(key, dict(body, layers=[]))
        g["layers"].append(la["index"])
    return sorted(groups.values(), key=lambda g: g["layers"][0])


def summary(m: dict[str, Any]) -> list[Any]:
    """What the shrink check compares: per layer, class, per-token and fixed bytes and shapes."""
    return [
        (
            la["class"],
            la["bytes_per_token"],
            la["fixed_bytes"],
            sorted((k, tuple(v["shape"][1:])) for k, v in la["tensors"].items()),
        )
        for la in m["_layers"]
    ]


# ---------------------------------------------------------------------------------------------
# one type


CHECK_MAX_PARAMS = {0: 1_000_000_000, 1: 1_000_000_000}


def shrink_check(fresh: Any, auto: Any, cache: dict[str, Any], lengths: tuple[int, int]) -> dict[str, Any]:
    """Measure again with less shrinking where that build is small enough for a CPU forward."""
    for level in range(cache["shrink_level"]):
        c = fresh()
        shrink(c, level)
        try:
            with torch.device("meta"):
                n = sum(p.numel() for p in auto.from_config(c).parameters())
        except Exception as exc:
            return {"level": level, "error": first_sentence(exc)}
        if n > CHECK_MAX_PARAMS[level]:
            continue
        try:
            other = measure(c, auto, lengths, getattr(torch, cache["model_dtype"]))
        except Exception as exc:
            return {"level": level, "error": first_sentence(exc)}
        res: dict[str, Any] = {"level": level, "params_at_level": n, "equal": summary(other) == summary(cache)}
        if not res["equal"]:
            res["bytes_per_token_at_level"] = other["bytes_per_token"]
            res["fixed_bytes_per_sequence_at_level"] = other["fixed_bytes_per_sequence"]
        return res
    return {"skipped": "every less-shrunk build is too large for a CPU forward"}


def first_sentence(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {msg}"[:400]


def run_type(model_type: str, in_maps: list[str], configs_dir: Path, check: bool) -> dict[str, Any]:
    rec: dict[str, Any] = {"mappings": in_maps}
    try:
        cfg, source = build_config(model_type)
    except Exception as exc:
        rec["status"] = "config: " + first_sentence(exc)
        return rec
    rec["config_source"] = source
    cfg_d = config_dict(cfg)
    (configs_dir / f"{model_type}.json").write_text(json.dumps(cfg_d, indent=2, sort_keys=True, default=str) + "\n")
    rec["config_file"] = f"configs/{model_type}.json"
    tcfg = text_config(cfg)
    rec["text_config_class"] = type(tcfg).__name__
    layer_types = _get(tcfg, "layer_types")
    if isinstance(layer_types, list):
        rec["layer_types"] = sorted(set(map(str, layer_types)))

    # parameters
    params: dict[str, Any] = {}
    errors: dict[str, str] = {}
    auto_for_cache = None
    for m, auto in model_classes(model_type, in_maps).items():
        try:
            params[m] = meta_params(cfg, auto)
            if auto_for_cache is None:
                auto_for_cache = auto
        except Exception as exc:
            errors[m] = first_sentence(exc)
    rec["params"] = params
    if errors:
        rec["params_errors"] = errors
    text_only = None
    if auto_for_cache is None:
        # a composite model whose tower needs a missing package: its text model alone still tells
        # the text stack's parameters and the cache
        if tcfg is cfg:
            rec["status"] = "build: " + next(iter(errors.values()))
            return rec
        try:
            rec["text_model_params"] = meta_params(tcfg, transformers.AutoModelForCausalLM)
        except Exception as exc:
            rec["status"] = "build: " + next(iter(errors.values()))
            rec["text_model_error"] = first_sentence(exc)
            return rec
        auto_for_cache = transformers.AutoModelForCausalLM
        text_only = next(iter(errors.values()))

    # the cache
    lengths = LENGTHS_BY_TYPE.get(model_type, LENGTHS)
    cache = None
    shrink_errors = []

    def fresh() -> Any:
        c = build_config(model_type)[0]
        return text_config(c) if text_only else c

    # bf16 first; float32 where a model's own code mixes dtypes (one float32 try, fully shrunk)
    for level, dtype in (
        (2, torch.bfloat16),
        (1, torch.bfloat16),
        (0, torch.bfloat16),
        (-1, torch.bfloat16),
        (2, torch.float32),
    ):
        c = fresh()
        shrunk = shrink(c, level)
        try:
            cache = measure(c, auto_for_cache, lengths, dtype)
            cache["shrink_level"] = level
            cache["shrunk"] = sorted(set(shrunk))
            break
        except NoCache as exc:
            rec["status"] = "no cache: " + str(exc)
            return rec
        except Exception as exc:
            shrink_errors.append(f"level {level} {str(dtype).replace('torch.', '')}: {first_sentence(exc)}")
    if cache is None:
        rec["status"] = "forward: " + shrink_errors[-1].split(": ", 1)[1]
        rec["cache_errors"] = shrink_errors
        return rec
    if shrink_errors:
        cache["shrink_errors"] = shrink_errors
    rec["cache"] = cache

    # the window caps
    if any(la.get("sliding_window") for la in cache["_layers"]) or any(
        _get(c, k) for c in sub_configs(cfg) for k in ("sliding_window", "attention_chunk_size")
    ):
        c = fresh()
        shrink(c, cache["shrink_level"])
        changed = set_windows(c, WINDOW_PROBE)
        try:
            probe = measure(c, auto_for_cache, lengths, getattr(torch, cache["model_dtype"]))
            rec["window_probe"] = {
                "window": WINDOW_PROBE,
                "set": changed,
                "bytes_at": probe["bytes_at"],
                "bytes_per_token": probe["bytes_per_token"],
                "fixed_bytes_per_sequence": probe["fixed_bytes_per_sequence"],
                "layer_groups": group_layers(
                    [
                        {
                            "index": la["index"],
                            "class": la["class"],
                            "bytes_per_token": la["bytes_per_token"],
                            "fixed_bytes": la["fixed_bytes"],
                            "sliding_window": la.get("sliding_window"),
                            # tokens a capped layer keeps: its fixed bytes over the uncapped per-token bytes
                            "cap_tokens": (
                                la["fixed_bytes"] // full["bytes_per_token"]
                                if la["bytes_per_token"] == 0 and full["bytes_per_token"] > 0
                                else None
                            ),
                        }
                        for la, full in zip(probe["_layers"], cache["_layers"], strict=True)
                    ]
                ),
            }
        except Exception as exc:
            rec["window_probe"] = {"error": first_sentence(exc)}

    # the shrink check: a less-shrunk build must give the same cache
    if check and cache["shrink_level"] > 0:
        rec["shrink_check"] = shrink_check(fresh, auto_for_cache, cache, lengths)
    cache.pop("_layers")
    if text_only:
        rec["status"] = "text_only: " + text_only
        return rec
    rec["status"] = "ok"
    return rec


# ---------------------------------------------------------------------------------------------
# driver: one forked child per type


def child(model_type: str, in_maps: list[str], configs_dir: Path, check: bool, wfd: int, timeout: int) -> None:
    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError(f"over {timeout} s")))
    signal.alarm(timeout)
    try:
        rec = run_type(model_type, in_maps, configs_dir, check)
    except BaseException as exc:  # every failure becomes a recorded sentence
        rec = {"mappings": in_maps, "status": "error: " + first_sentence(exc), "trace": traceback.format_exc()[-800:]}
    data = json.dumps(rec, sort_keys=True, default=str).encode()
    with os.fdopen(wfd, "wb") as w:
        w.write(data)
    os._exit(0)


def run_all(
    types: list[str], maps: dict[str, list[str]], configs_dir: Path, check: bool, timeout: int, jobs: int, log: Any
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    pending = list(types)
    running: dict[int, tuple[str, int, float, list[bytes]]] = {}
    while pending or running:
        while pending and len(running) < jobs:
            t = pending.pop(0)
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                child(t, maps[t], configs_dir, check, w, timeout)
            os.close(w)
            os.set_blocking(r, False)
            running[pid] = (t, r, time.monotonic(), [])
        time.sleep(0.05)
        for pid, (t, r, start, chunks) in list(running.items()):
            try:
                while True:
                    b = os.read(r, 1 << 16)
                    if not b:
                        break
                    chunks.append(b)
            except BlockingIOError:
                pass
            done_pid, status = os.waitpid(pid, os.WNOHANG)
            elapsed = time.monotonic() - start
            if done_pid == 0 and elapsed > timeout + 30:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                done_pid, status = pid, -9
            if done_pid:
                try:
                    while True:
                        b = os.read(r, 1 << 16)
                        if not b:
                            break
                        chunks.append(b)
                except BlockingIOError:
                    pass
                os.close(r)
                raw = b"".join(chunks)
                try:
                    rec = json.loads(raw)
                except Exception:
                    rec = {"mappings": maps[t], "status": f"error: the child ended with status {status} and no result"}
                results[t] = rec
                del running[pid]
                print(f"{t}: {rec['status'][:150]} ({elapsed:.0f} s)", file=log, flush=True)
    return results


def warm_up() -> None:
    """Import the shared machinery once in the parent, so each forked child imports only its
    model's own modules (the shared imports are most of a small type's time)."""
    import transformers.models.llama.modeling_llama
    import transformers.models.llava.modeling_llava
    import transformers.models.siglip.modeling_siglip  # noqa: F401

    AutoConfig.for_model("llama")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--types", nargs="*", help="only these model types (merged into an existing --out)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per type")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--no-check", action="store_true", help="skip the less-shrunk comparison")
    ap.add_argument(
        "--check-max-params",
        type=int,
        default=CHECK_MAX_PARAMS[0],
        help="largest less-shrunk build (parameters) the check runs a forward on",
    )
    args = ap.parse_args()
    _load_published()
    CHECK_MAX_PARAMS.update({0: args.check_max_params, 1: args.check_max_params})
    warm_up()
    out: Path = args.out
    configs_dir = out.parent / "configs"
    configs_dir.mkdir(parents=True, exist_ok=True)
    maps = mappings()
    types = sorted(maps) if not args.types else [t for t in args.types if t in maps]
    existing: dict[str, Any] = {}
    torch_version = torch.__version__
    if args.types and out.exists():
        old = json.loads(out.read_text())
        existing = old.get("types", {})
        torch_version = old.get("torch", torch_version)
    t0 = time.monotonic()
    results = run_all(types, maps, configs_dir, not args.no_check, args.timeout, args.jobs, sys.stderr)
    if torch_version != torch.__version__:
        # merged into a document made with another torch (a tower needs torchvision, which only
        # imports beside another torch build): each record says which torch made it
        for rec in results.values():
            rec["torch"] = torch.__version__
    existing.update(results)
    doc = {
        "generator": "bench/oracle_transformers.py",
        "transformers": transformers.__version__,
        "torch": torch_version,
        "lengths": list(LENGTHS),
        "lengths_by_type": {k: list(v) for k, v in LENGTHS_BY_TYPE.items()},
        "window_probe": WINDOW_PROBE,
        "batch": 1,
        "dtype": "bfloat16",
        "shrink": {
            "vocab_size": SMALL_VOCAB,
            "widths": SMALL_WIDTH,
            "experts": SMALL_EXPERTS,
            "hidden_size": SMALL_HIDDEN,
            "levels": "2: vocabulary + MLP/expert widths and counts + hidden size where head sizes are "
            "explicit; 1: without hidden size; 0: vocabulary only; -1: nothing. Configs with state-space "
            "or linear-attention fields keep hidden_size and intermediate_size.",
        },
        "mapping_types": {
            name: sorted(getattr(modeling_auto, name))
            for name in ("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES")
        },
        "types": dict(sorted(existing.items())),
    }
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1, sort_keys=True, default=str) + "\n")
    tmp.replace(out)
    print(f"{len(results)} types in {time.monotonic() - t0:.0f} s -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
