"""Run the vLLM engine on the calibration2 start-up logs (vLLM 0.20-0.34), one table per release.

    python tools/calibrate_versions.py            # plain text
    python tools/calibrate_versions.py --markdown # the README's tables
    python tools/calibrate_versions.py --json

For every vLLM case of ``tests/fixtures/calibration2/cases.json`` the script either sizes it or
says why it cannot (no config for the model, the GPU's total not known, a build that is not a
release). A case is sized two ways where it can be:

* **from the logged pool**: the logged "Available KV cache memory" goes through the engine's block
  layout (pages, groups, hybrid state pages) of the case's release; the "GPU KV cache size" tokens,
  the maximum concurrency and the start-up check (one max_model_len request fits, else vLLM's error
  and estimated maximum length) are compared with the log. This checks everything after the budget.
  The logged pool is rounded to 0.01 GiB, so the token counts at both ends of that rounding are
  computed; a logged count between them is an error of 0 (else the error is to the nearer end).
* **whole pool**, where the GPU's total, the utilization and every flag that moves memory are known
  (``FULL_POOL``): vram's own pool (util x total - loaded weights - activation peak - non-torch -
  CUDA-graph estimate) is compared term by term with what the log prints ("Model loading took X
  GiB", the 0.26+ breakdown line, "Available KV cache memory"), and the tokens that pool holds with
  the logged tokens. Where the log gives the weights but not the utilization or the total, only the
  weights are compared.

Configs: ``tests/fixtures/configs`` (published), or ``tests/fixtures/calibration2/configs`` (the
transformers class defaults of a type, used only where they are the logged model's shape; each use
says so in ``CONFIGS`` below).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from estimator.config import load_model_spec  # noqa: E402
from estimator.draft import read_drafter  # noqa: E402
from estimator.engines import vllm  # noqa: E402
from estimator.gpus import lookup_gpu  # noqa: E402
from estimator.pipeline import stage_spec  # noqa: E402
from estimator.query import KVSetting, Query  # noqa: E402
from estimator.spec import ModelSpec  # noqa: E402
from estimator.weights import weight_bytes  # noqa: E402

CASES = ROOT / "tests" / "fixtures" / "calibration2" / "cases.json"
PUBLISHED = ROOT / "tests" / "fixtures" / "configs"
DEFAULTS = ROOT / "tests" / "fixtures" / "calibration2" / "configs"
GiB = 1 << 30

# Case id -> (config file, why it is this model's shape, query overrides the log implies).
CONFIGS: dict[str, tuple[Path, str, dict[str, Any]]] = {
    # Qwen3.6-35B-A3B has Qwen3.5-35B-A3B's architecture, which is Qwen3_5MoeConfig's default: 40
    # layers (every 4th full attention, 2 KV heads x 256), GDN 16 key / 32 value heads x 128.
    "n001": (DEFAULTS / "qwen3_5_moe.json", "Qwen3_5MoeConfig defaults = Qwen3.5/3.6-35B-A3B", {}),
    "n002": (DEFAULTS / "qwen3_5_moe.json", "Qwen3_5MoeConfig defaults = Qwen3.5/3.6-35B-A3B", {}),
    # RedHatAI/Qwen3.6-35B-A3B-NVFP4: those defaults with the NVFP4 quantization_config of
    # llm-compressor's recipe for this model (examples/quantization_w4a4_fp4/qwen3_6_example.py, which
    # saves "Qwen3.6-35B-A3B-NVFP4": attention, routed and shared experts NVFP4; gated DeltaNet,
    # routers, embeddings, lm_head and the vision tower bf16).
    **{
        case: (DEFAULTS / "qwen3_6_35b_a3b_nvfp4.json", "Qwen3_5MoeConfig defaults + llm-compressor's NVFP4 recipe", {})
        for case in ("n035", "n047", "n048", "n049", "n050")
    },
    # Qwen2.5-7B-Instruct-AWQ: the base model's published config, weights as AWQ.
    "n037": (PUBLISHED / "Qwen__Qwen2.5-7B.json", "Qwen2.5-7B published config, AWQ weights", {"weight_format": "awq"}),
    "n045": (PUBLISHED / "meta-llama__Llama-3.1-8B.json", "Llama-3.1-8B published config", {}),
    # The failed start quotes 36.0 GiB for 262,144 tokens: 144 KiB per token, the text stack of
    # Qwen3-VL-8B, which is Qwen3-8B's (36 layers x 8 KV heads x 128).
    "n042": (PUBLISHED / "Qwen__Qwen3-8B.json", "Qwen3-8B = Qwen3-VL-8B's text stack (144 KiB/token)", {}),
    # Qwen3.6-27B keeps Qwen3.5-27B's shape (64 layers, every 4th full attention with 4 KV heads x
    # 256; GDN 16 key / 48 value heads x 128), a config copied from public sources (see SOURCES.md).
    # The club-3090 composes run MTP with 3 speculative tokens (flags_evidence in the case).
    **{
        case: (DEFAULTS / "qwen3_5_27b.json", "Qwen3.5-27B published shape = Qwen3.6-27B", {})
        for case in ("n018", "n019", "n021", "n022", "n034", "n039", "n040", "n046")
    },
    # Qwen3.6-27B FP8 at TP 2 with an int8_per_token_head KV cache (1,040 B per token and layer per
    # rank: 2 heads x (2 x 256 + 2 x 4)). The thread's logged 1,584-token block and "mamba page
    # padding 0.80%" need the GDN conv window of 3 + 3 columns: 1,634,304 B of state per rank /
    # 1,040 = 1,571.4 -> 1,584 tokens, 1,647,360 / 1,634,304 = +0.80%; that is MTP with 3
    # speculative tokens, the club-3090 composes' setting (n018-n022). Prefix caching: the case notes.
    "n033": (
        DEFAULTS / "qwen3_5_27b.json",
        "Qwen3.5-27B published shape = Qwen3.6-27B, FP8 weights; MTP x 3 from the logged block and padding",
        {"weight_format": "fp8", "mtp": 3, "prefix_caching": True},
    ),
    # Qwen3.8-27B NVFP4 with an nvfp4 KV cache (the pool only: its weights do not enter).
    "n010": (DEFAULTS / "qwen3_5_27b.json", "Qwen3.5-27B published shape = Qwen3.8-27B", {}),
    "n017": (
        DEFAULTS / "qwen3_5_27b.json",
        "Qwen3.5-27B published shape = Qwen3.8-27B, FP8 weights",
        {"weight_format": "fp8"},
    ),
    # GLM-5.2 has GLM-5.3's shape (78 MLA layers; indexers on layers 0-2 and every 4th from 6 to 74,
    # 21 of 78, the rest share them); the log's "Using standard fp8 KV cache format" is the
    # Blackwell (sm100) sparse-MLA path; the device (184.31 GiB, 152 SMs) is a GB200, compute capability 10.0.
    "n044": (DEFAULTS / "glm5_3.json", "GLM-5.3 published config = GLM-5.2 shape; sm100 fp8 layout", {"gpu": "gb200"}),
    # MiniMax-M2.7 keeps MiniMax-M2's shape (MiniMaxM2Config defaults: 62 layers, 8 KV heads x 128).
    "n016": (DEFAULTS / "minimax_m2.json", "MiniMaxM2Config defaults = MiniMax-M2 shape", {}),
    # A fine-tuned Qwen3.5-35B-A3B in bf16 (served under that name): the base model's shape.
    "n003": (DEFAULTS / "qwen3_5_moe.json", "Qwen3_5MoeConfig defaults = Qwen3.5-35B-A3B, bf16", {}),
    # Qwen/Qwen3.8-27B-FP8 (PR table: weights per GPU and tokens only).
    "n013": (
        DEFAULTS / "qwen3_5_27b.json",
        "Qwen3.5-27B published shape = Qwen3.8-27B, FP8 weights",
        {"weight_format": "fp8"},
    ),
    "n015": (DEFAULTS / "minimax_m2.json", "MiniMaxM2Config defaults = MiniMax-M2 shape", {}),
    "n051": (PUBLISHED / "Qwen__Qwen2.5-7B.json", "Qwen2.5-7B published config (= the Instruct's geometry)", {}),
    **{
        case: (PUBLISHED / "Qwen__Qwen3-32B.json", "Qwen3-32B published config", {})
        for case in ("n052", "n053", "n054")
    },
    "n055": (PUBLISHED / "Qwen__Qwen3-8B.json", "Qwen3-8B published config", {}),
    "n056": (PUBLISHED / "Qwen__Qwen2.5-7B.json", "Qwen2.5-7B published config, AWQ weights", {"weight_format": "awq"}),
    # Qwen2.5-1.5B-Instruct's config.json as public files transcribe it (see the README).
    "n057": (DEFAULTS / "qwen2_5_1_5b_instruct.json", "Qwen2.5-1.5B-Instruct published config", {}),
    "n058": (PUBLISHED / "Qwen__Qwen2.5-VL-7B-Instruct.json", "Qwen2.5-VL-7B-Instruct published config", {}),
    # Qwen/Qwen3-8B-AWQ on an RTX 5070 Ti (Burbanit0/Vote-App's bump records): the base model's
    # published config, weights as AWQ. n065-n067 add an EAGLE-3 head whose config is not in the fixtures.
    **{
        case: (PUBLISHED / "Qwen__Qwen3-8B.json", "Qwen3-8B published config, AWQ weights", {"weight_format": "awq"})
        for case in ("n064", "n065", "n066", "n067")
    },
    # google/gemma-4-31b-it's own Gemma4Config (see the fixture README): attention_k_eq_v global layers.
    "n036": (DEFAULTS / "gemma4_31b_it.json", "gemma-4-31B-it published config", {}),
    # deepseek-ai/DeepSeek-V4-Flash's published config.json (see the fixture README).
    "n027": (DEFAULTS / "deepseek_v4_flash.json", "DeepSeek-V4-Flash published config", {}),
    # DeepSeek-V4-Flash-0731 "keeps the same model architecture and size" as the preview, only
    # re-post-trained (DeepSeek's release note, see the fixture README): the published config.
    **{
        case: (DEFAULTS / "deepseek_v4_flash.json", "DeepSeek-V4-Flash published config = the 0731 refresh", {})
        for case in ("n004", "n006", "n007")
    },
    # The H20 runs serve the deepseek_mtp drafter, whose block adds its own compressed caches to the
    # groups; the table does not give its token count, and 1 to 4 speculative tokens lay the pool out
    # alike (the drafter's one layer is what changes the layout).
    "n005": (
        DEFAULTS / "deepseek_v4_flash.json",
        "DeepSeek-V4-Flash published config = the 0731 refresh; the MTP block's caches",
        {"mtp": 1},
    ),
    # The club-3090 preview-single compose (AutoRound INT4 of Qwen3.6-35B-A3B): the base shape; the
    # pool's layout does not read the weights' format.
    "n026": (DEFAULTS / "qwen3_5_moe.json", "Qwen3_5MoeConfig defaults = Qwen3.6-35B-A3B, AutoRound INT4", {}),
    # openai/gpt-oss-120b's published config.json (see the fixture README): MXFP4 routed experts.
    "n012": (DEFAULTS / "gpt_oss_120b.json", "gpt-oss-120b published config", {}),
    # gemma-4-31B-it's shape for its AWQ checkpoint (the pool's layout does not read the weights).
    **{
        case: (DEFAULTS / "gemma4_31b_it.json", "gemma-4-31B-it published config, AWQ weights", {})
        for case in ("n008", "n009")
    },
    # Qwen3.8-27B keeps Qwen3.5-27B's shape (see n010, n013).
    "n014": (DEFAULTS / "qwen3_5_27b.json", "Qwen3.5-27B published shape = Qwen3.8-27B, NVFP4 weights", {}),
    "n038": (
        DEFAULTS / "qwen3_5_27b.json",
        "Qwen3.5-27B published shape = Qwen3.8-27B, FP8 weights",
        {"weight_format": "fp8"},
    ),
    "n041": (DEFAULTS / "qwen3_5_27b.json", "Qwen3.5-27B published shape = Qwen3.8-27B", {}),
    # DeepSeek-V4-Flash-0731: the study's architecture facts (43 layers, 128-token window, 6 of 256
    # experts + 1 shared, 2,048 wide, fp4) are DeepSeek-V4-Flash's published shape.
    "n059": (DEFAULTS / "deepseek_v4_flash.json", "DeepSeek-V4-Flash published shape = the 0731 checkpoint's", {}),
    # glq's release notes quote fragments of a refused start on "a 32 GB card" (needed 8.48 / available
    # 7.48 GiB at 131,072 tokens). The needed figure is the KV layout alone: Qwen3.5-27B's shape in a
    # 2-byte cache (the notes' "64 KiB per token" is 16 layers x 4 KV heads x 256 x 2 x 2 B), default
    # prefix caching, no MTP (an MTP layer adds 0.5 GiB). Sized on the RTX 5090 (SM 12.0, as the other
    # 32 GB Blackwell card, the RTX PRO 4500): only FlashInfer's GDN prefill, with its checkpoint page
    # and 64-token block alignment, prints 8.48; an Ampere / Ada / Volta 32 GB card (Triton's prefill)
    # would print 8.33, as would any release before 0.33.
    # A study report's own logs of vLLM 0.28.0 on one A100 80GB PCIe: Qwen3.8-27B (bf16) and
    # Qwen/Qwen3.5-0.8B (its config as public files transcribe it, see the fixture README).
    "n071": (DEFAULTS / "qwen3_5_27b.json", "Qwen3.5-27B published shape = Qwen3.8-27B, bf16", {}),
    **{
        case: (DEFAULTS / "qwen3_5_0_8b.json", "Qwen3.5-0.8B config as public files transcribe it", {})
        for case in ("n072", "n073")
    },
    "n074": (PUBLISHED / "meta-llama__Llama-3.1-8B.json", "Llama-3.1-8B published config (= the Instruct's)", {}),
    # Qwen3-32B NVFP4 / MXFP4 checkpoints: the pool's layout does not read the weights' format.
    **{case: (PUBLISHED / "Qwen__Qwen3-32B.json", "Qwen3-32B published config", {}) for case in ("n075", "n076")},
    "n070": (
        DEFAULTS / "qwen3_5_27b.json",
        "Qwen3.5-27B published shape = Qwen3.8-27B, GLQ weights (not read: the check is the KV layout's)",
        {"gpu": "rtx-5090"},
    ),
}

# Cases whose log names no vLLM version, with the release they are sized on and why.
RELEASES_INFERRED: dict[str, str] = {
    # glq v0.8.37 (2026-11-19): "Release smoke gate ... vLLM 0.33.0"; the refusal it quotes was fixed in
    # that release.
    "n070": "0.33",
}

# DFlash drafters of the calibration cases: the drafter's config and where its values come from (the
# Hub files could not be fetched here; see tests/fixtures/calibration2/README.md).
DRAFTERS: dict[str, tuple[Path, str]] = {
    **{
        case: (DEFAULTS / "qwen3_6_27b_dflash.json", "z-lab/Qwen3.6-27B-DFlash")
        for case in ("n020", "n023", "n024", "n025")
    },
    "n028": (DEFAULTS / "qwen3_6_35b_a3b_dflash.json", "z-lab/Qwen3.6-35B-A3B-DFlash"),
}
# The targets of the DFlash cases: Qwen3.6-27B (n020's autoround int4 checkpoint: the shape is what
# the KV layout reads) and Qwen3.6-35B-A3B FP8.
CONFIGS.update(
    {
        **{
            case: (DEFAULTS / "qwen3_5_27b.json", "Qwen3.5-27B published shape = Qwen3.6-27B; DFlash drafter", {})
            for case in ("n020", "n023", "n024", "n025")
        },
        "n028": (
            DEFAULTS / "qwen3_5_moe.json",
            "Qwen3_5MoeConfig defaults = Qwen3.6-35B-A3B, FP8; DFlash drafter",
            {"weight_format": "fp8"},
        ),
    }
)


def with_drafter(case_id: str, spec: ModelSpec) -> ModelSpec:
    """The target's spec with the case's DFlash drafter attached (the drafter checkpoints ship no
    embedding or LM head: vLLM shares the target's)."""
    if case_id not in DRAFTERS:
        return spec
    path, model_id = DRAFTERS[case_id]
    config = json.loads(path.read_text())
    drafter_spec = load_model_spec(config)
    drafter = read_drafter(model_id, config, drafter_spec, ("model.layers.0.self_attn.q_proj.weight", "fc.weight"))
    return spec.model_copy(update={"drafter": drafter})


# Cases of a model whose config is here, but whose log leaves out a setting that changes the pool's
# layout, or gives no figure the layout can be checked on: sizing them would test a guess.
FLAGS_UNKNOWN: dict[str, str] = {
    # The same H20 pair, flags and release as n005 (which the published config reproduces): 1,009,661
    # tokens in 7.01 GiB is 7.4 B per token, where that config holds 0.76 requests of the 912,128
    # tokens the table implies (10.8 B per token); the issue's own follow-up suspects the preview run
    # did not allocate the compressed groups. No config or log line of that run says its layout.
    "n004": "DeepSeek-V4-Flash preview: the author's table gives 7.4 B per token, a layout no published "
    "config gives (the 0731 run beside it matches the published one)",
    **{
        case: "DeepSeek-V4-Flash-0731 DP 8 / TP 8: only the maximum concurrency at 1M is quoted (DP 8: the "
        "ranks' lines added up), with no pool or (TP 8) flags; the pair is checked in test_vllm_data_parallel.py"
        for case in ("n006", "n007")
    },
    **{
        case: "gemma-4-31B-it AWQ: the author's approximate figures only (~50 GB pool, ~55k / ~525k tokens), "
        "no max_model_len"
        for case in ("n008", "n009")
    },
    **{
        case: "Qwen3.6/3.8-27B: the KV dtype or the speculative config is cut from the excerpt"
        for case in ("n030", "n031", "n032")
    },
    "n011": "a patched build (prototype NVFP4 KV cache), not a release's layout",
    "n029": "Qwen3.6-27B: the KV dtype and prefix caching are not in the excerpt, nor whether it started",
    # GitLab's 0.34.0 sizing MR: "served 5 concurrent" / "held 4 concurrent 32,768-token requests" in
    # prose, with neither TP, util nor the checkpoint's dtype stated, and no pool; 0.34 is past the
    # newest release vram follows in any case.
    **{
        case: "vLLM 0.34.0, two A100 (40 GB): concurrency in prose only, no pool, TP, util or dtype"
        for case in ("n068", "n069")
    },
}


@dataclass
class Row:
    id: str
    version: str  # as logged
    profile: str | None  # the release the engine follows for it
    model: str
    gpu: str
    tp: int
    max_model_len: int | None
    logged_pool_gib: float | None
    logged_tokens: int | None
    logged_concurrency: float | None
    logged_start: str  # "started" / "failed"
    tokens_from_pool: int | None = None
    # The token counts at the two ends of the logged pool's rounding (format_gib: 2 decimals).
    tokens_range: tuple[int, int] | None = None
    concurrency_from_pool: float | None = None
    start_from_pool: str | None = None
    estimated_max_len: int | None = None
    logged_estimated_max_len: int | None = None
    needed_gib: float | None = None
    logged_needed_gib: float | None = None
    skipped: str | None = None
    config_note: str = ""
    pp: int = 1

    @property
    def tokens_error(self) -> float | None:
        if self.tokens_from_pool is None or not self.logged_tokens:
            return None
        if self.tokens_range is not None:
            low, high = self.tokens_range
            if low <= self.logged_tokens <= high:
                return 0.0  # the log's own pool, within its rounding, gives the logged count
            nearest = low if self.logged_tokens < low else high
            return nearest / self.logged_tokens - 1
        return self.tokens_from_pool / self.logged_tokens - 1

    @property
    def verdict_right(self) -> bool | None:
        if self.start_from_pool is None:
            return None
        return self.start_from_pool == self.logged_start


def _number(text: str | None, pattern: str) -> float | None:
    if not text:
        return None
    match = re.search(pattern, text)
    return float(match.group(1).replace(",", "")) if match else None


def _release(version: str) -> str | None:
    """The minor release of a logged version; None for builds not tied to one ("not printed")."""
    match = re.match(r"^\s*v?(\d+)\.(\d+)", version)
    if match:
        return f"{int(match.group(1))}.{int(match.group(2))}"
    bound = re.match(r"^\s*(?:vllm\s*)?<=\s*(\d+)\.(\d+)", version)
    return f"{int(bound.group(1))}.{int(bound.group(2))}" if bound else None


# The "GPU KV cache size" line as int(max concurrency x max_model_len) shipped in the 0.20.2 patch
# release, not only in 0.21.0 (vllm_profiles follows minor releases): the v0.20.2 log of n048 and the
# 0.20.2rc1 nightlies (n019, n021, n022) print it; v0.20.0 (n035, n047) prints the block count.
_CONCURRENCY_TOKENS_FROM_PATCH = {(0, 20): 2}


def _token_line(version: str, profile_report: str) -> str:
    """The token-line formula of the logged build: its minor release's, unless a patch of that
    release already carries the next one's."""
    match = re.match(r"^\s*v?(\d+)\.(\d+)\.(\d+)", version)
    if match:
        first = _CONCURRENCY_TOKENS_FROM_PATCH.get((int(match.group(1)), int(match.group(2))))
        if first is not None and int(match.group(3)) >= first:
            return "concurrency"
    return profile_report


def _gpu(case: dict[str, Any]) -> str | None:
    text = (case.get("gpu_model") or "").lower()
    if "rtx pro 6000" in text:
        return "rtx-pro-6000"
    if "rtx pro 4500" in text:
        return "rtx-pro-4500"
    if "gb10" in text:
        return "gb10"
    # Before the loop: "A800 80GB" would match a100-80gb's "80gb", and vLLM's batch tier reads "a100"
    # in the device name, which an A800's lacks.
    if "a800" in text:
        return "a800-80gb"
    if "a100 80gb pcie" in text:
        return "a100-80gb-pcie"
    if "4070 laptop" in text:
        return "rtx-4070-laptop"
    # n044 names no GPU, but a 184.31 GiB device with 152 SMs is a GB200 (the catalog's record).
    if "184.31 gib" in text and "152 sms" in text:
        return "gb200"
    for key in ("h200", "h100", "a100-80gb", "rtx-5090", "rtx-4090", "rtx-3090", "b200", "h20", "a40", "l20"):
        name = key.replace("-", " ").replace("rtx ", "rtx ")
        if name.split()[-1] in text.replace("geforce ", ""):
            return key
    return None


def _speculative(case: dict[str, Any]) -> tuple[int, str | None]:
    """(speculative tokens, why the case cannot be sized) from the case's speculative_config."""
    config = case.get("speculative_config")
    if not config:
        return 0, None
    if config.get("method") == "mtp" or (config.get("method") == "dflash" and case["id"] in DRAFTERS):
        if not config.get("num_speculative_tokens"):
            return 0, "num_speculative_tokens is not in the log"
        return int(config["num_speculative_tokens"]), None
    return 0, f"a {config.get('method')} draft model's config is not in the fixtures"


def _kv_setting(logged: str) -> KVSetting:
    """The kv= value of a logged --kv-cache-dtype (fp8_e4m3 / fp8_e5m2 are fp8's one byte)."""
    if logged.startswith("fp8"):
        return "fp8"
    if logged in ("nvfp4", "int8_per_token_head"):
        return logged  # type: ignore[return-value]
    return "auto"


def _query(case: dict[str, Any], release: str, overrides: dict[str, Any]) -> Query:
    kv = (case.get("kv_cache_dtype") or "auto").lower()
    flags = case.get("other_flags") or {}
    prefix = flags.get("enable_prefix_caching")
    drafted = case["id"] in DRAFTERS
    fields: dict[str, Any] = {
        "mtp": None if drafted else _speculative(case)[0] or None,
        "draft": DRAFTERS[case["id"]][1] if drafted else None,
        "spec": _speculative(case)[0] if drafted else None,
        "engine": "vllm",
        "vllm": release,
        "seq_len": case.get("max_model_len") or 8192,
        "gpus": case.get("tensor_parallel_size") or 1,
        "pp": case.get("pipeline_parallel_size") or 1,
        "dp": case.get("data_parallel_size") or 1,
        "kv": _kv_setting(kv),
        "util": case.get("gpu_memory_utilization"),
        "max_num_batched_tokens": case.get("max_num_batched_tokens"),
        "max_num_seqs": case.get("max_num_seqs"),
        "prefix_caching": prefix if isinstance(prefix, bool) else None,
    }
    return Query(**{**fields, **overrides})


def _logged_tokens(measured: dict[str, Any]) -> float | None:
    """The "GPU KV cache size" tokens: the log line, or the count an author's table copies from it."""
    return _number(measured.get("gpu_kv_cache_size"), r"size: ([\d,]+) tokens") or _number(
        measured.get("gpu_kv_cache_size_tokens"), r"^([\d,]+)$"
    )


def _failed_start(case: dict[str, Any]) -> tuple[float, float, int | None] | None:
    """(needed GiB, available GiB, estimated max length) of a logged fit-check failure; a quote in
    fragments ("8.48 GiB KV cache is needed ... 7.48 GiB available") gives no estimated length."""
    for line in case["measured"].get("raw_lines") or []:
        match = re.search(r"\(?([\d.]+) GiB KV cache is needed.*?memory \(([\d.]+) GiB\)\..*?length is (\d+)", line)
        if match:
            return float(match.group(1)), float(match.group(2)), int(match.group(3))
        match = re.search(r"([\d.]+) GiB KV cache is needed \W+ ([\d.]+) GiB available", line)
        if match:
            return float(match.group(1)), float(match.group(2)), None
    return None


def _no_cache_memory(case: dict[str, Any]) -> bool:
    """A start that failed before any block fits: a pool of zero or less ("No available memory for the
    cache blocks")."""
    return any("No available memory for the cache blocks" in line for line in case["measured"].get("raw_lines") or [])


def size_case(case: dict[str, Any]) -> Row:
    m = case["measured"]
    failure = _failed_start(case)
    row = Row(
        id=case["id"],
        version=case["version"],
        profile=None,
        model=str(case.get("model_id"))[:60],
        gpu=str(case.get("gpu_model"))[:30],
        tp=case.get("tensor_parallel_size") or 1,
        pp=case.get("pipeline_parallel_size") or 1,
        max_model_len=case.get("max_model_len"),
        logged_pool_gib=_number(m.get("available_kv_cache_memory") or m.get("kv_pool"), r"(-?[\d.]+) GiB"),
        logged_tokens=int(t) if (t := _logged_tokens(m)) else None,
        logged_concurrency=_number(m.get("max_concurrency"), r": ([\d.]+)x")
        or _number(m.get("fits_max_model_len"), r"\(([\d.]+)x\)"),
        logged_start="failed" if failure or _no_cache_memory(case) else "started",
    )
    release = _release(case["version"]) or RELEASES_INFERRED.get(case["id"])
    if (why := _speculative(case)[1]) is not None:
        row.skipped = why
        return row
    if case["id"] in FLAGS_UNKNOWN:
        row.skipped = FLAGS_UNKNOWN[case["id"]]
        return row
    if case["id"] not in CONFIGS:
        row.skipped = "no config of the logged model (not named in the excerpt)"
        return row
    if release is None:
        row.skipped = "the vLLM release is not known"
        return row
    path, note, overrides = CONFIGS[case["id"]]
    row.config_note = note
    spec = with_drafter(case["id"], load_model_spec(json.loads(path.read_text())))
    gpu_key = _gpu(case)
    # The GPU picks kernels that shape the layout (gated DeltaNet's prefill backend from 0.33).
    query = _query(case, release, {**overrides, **({"gpu": gpu_key} if gpu_key else {})})
    profile, _ = vllm.version_profile(query)
    row.profile = profile.version
    if query.pp > 1:
        # The pool line is the first pipeline rank's (logged once per node); vLLM gives every rank
        # the fewest blocks of any, so that rank's blocks are an upper bound on the logged tokens.
        spec = stage_spec(spec, 0, query.pp)
        row.config_note += f"; PP {query.pp}: the logged pool is the first rank's ({spec.num_layers} layers)"
    batched, _ = vllm.served_batch(spec, query, lookup_gpu(gpu_key) if gpu_key else None)
    if failure:
        needed, available, estimated = failure
        row.logged_pool_gib = available
        row.logged_estimated_max_len = estimated
        row.logged_needed_gib = needed
        _check_from_pool(row, spec, query, int(available * GiB), batched)
        return row
    if row.logged_pool_gib is None:
        row.skipped = 'the log shows no "Available KV cache memory" line'
        row.profile = None
        return row
    pool = int(row.logged_pool_gib * GiB)
    line = _token_line(case["version"], profile.kv_tokens_report)
    if line != profile.kv_tokens_report:
        row.config_note += "; 0.20.2+: the token line is int(concurrency x max_model_len)"

    def tokens_at(pool_bytes: int) -> tuple[int, float]:
        _, tokens, concurrency = vllm.kv_capacity(spec, query, pool_bytes, batched_tokens=batched)
        return (int(concurrency * query.seq_len) if line != profile.kv_tokens_report else tokens), concurrency

    tokens, concurrency = tokens_at(pool)
    half = GiB // 200  # "X.XX GiB": the pool is within half a hundredth of a GiB of the printed value
    row.tokens_range = (tokens_at(pool - half)[0], tokens_at(pool + half - 1)[0])
    row.tokens_from_pool, row.concurrency_from_pool = tokens, round(concurrency, 2)
    _check_from_pool(row, spec, query, pool, batched)
    return row


def _check_from_pool(row: Row, spec: ModelSpec, query: Query, pool: int, batched: int) -> None:
    check = vllm.start_check(spec, query, pool, batched_tokens=batched)
    row.start_from_pool = "started" if check.fits else "failed"
    row.needed_gib = round(check.needed_bytes / GiB, 2)
    # No estimated length when no block fits: vLLM stops before its fit check.
    row.estimated_max_len = None if check.fits or pool <= 0 else check.estimated_max_model_len


# The whole-pool cases: the GPU record whose kernels and batch tiers vLLM would pick (its memory
# replaced by the device total torch reports), and where that total comes from. None: the log's
# "Free memory on device (free/total GiB)" gives it. Cases whose log gives the weights but not the
# utilization or the total are listed with ``weights_only``.
@dataclass(frozen=True)
class FullPool:
    gpu_key: str
    total_gib: float | None
    total_source: str
    weights_only: str | None = None


FULL_POOL: dict[str, FullPool] = {
    # An A40 (the catalog's a40 record): "GPU 0 has a total capacity of 44.34 GiB" in a vLLM OOM on an
    # A40 pod (code index id 19358378260, a Korean vLLM multi-node walkthrough).
    "n045": FullPool("a40", 44.34, "A40: torch's 44.34 GiB (a vLLM OOM on an A40 pod)"),
    # "80 GB-class, 79.33 GiB": sized with the H100's batch tier and kernels (an A100 has its own tier).
    "n003": FullPool("h100-80gb", None, "logged (79.33 GiB); sized as an H100"),
    "n017": FullPool("rtx-5090", None, "logged (31.4 GiB)"),
    "n037": FullPool("h200", None, "", weights_only="the utilization is not in the excerpt"),
    "n013": FullPool("rtx-5090", None, "", weights_only="a PR table: weights per GPU and tokens only"),
    # NVFP4 on a Blackwell-class GPU whose device total is not printed (a ~32 GiB WSL2 card): weights
    # only, with the RTX 5090's record (FP4-capable Blackwell).
    **{
        case: FullPool("rtx-5090", None, "", weights_only="the device total is not printed")
        for case in ("n035", "n050")
    },
    # DGX Spark (GB10): these logs do not print the device total; other DGX Spark logs do, as vLLM's
    # start-up check "Free memory on device cuda:0 (X/121.69 GiB)" (the catalog's gb10 record).
    **{
        case: FullPool("gb10", 121.69, "GB10: torch's 121.69 GiB in other DGX Spark logs")
        for case in ("n027", "n047", "n048", "n049")
    },
    # The post's device listing: "NVIDIA RTX PRO 6000 Blackwell Server Edition 95.01 GiB sm_120".
    **{case: FullPool("rtx-pro-6000", 95.01, "the post's device listing") for case in ("n052", "n053", "n054")},
    # The A100 80GB PCIe of the 0.28.0 study report: its serve run's breakdown (n073) adds up to util x
    # total, 61.82 + 4.18 + 1.36 = 67.36 GiB = 0.85 x 79.25 GiB (the catalog's deviceQuery says 79.14).
    **{
        case: FullPool("a100-80gb-pcie", 79.25, "n073's breakdown: 61.82 + 4.18 + 1.36 = 0.85 x 79.25")
        for case in ("n071", "n072", "n073")
    },
    # "Free memory on device (78.84/79.25 GiB)": an A100 80GB whose variant the author does not name.
    "n074": FullPool("a100-80gb", None, "logged (79.25 GiB)"),
    # Its own breakdown line: "Free memory on device (22.64/23.52 GiB)" (RunPod's RTX 4090).
    "n055": FullPool("rtx-4090", None, "logged (23.52 GiB)"),
    # RTX PRO 4000 Blackwell (sm_120, as the RTX 5090's kernels): nvidia-smi "24,467" MiB total.
    "n056": FullPool("rtx-5090", 23.89, "nvidia-smi 24,467 MiB; sized with the sm_120 kernels"),
    # RTX 4070 Laptop (the catalog's rtx-4070-laptop record, sm_89): the author's 8,188 MiB.
    "n057": FullPool("rtx-4070-laptop", 7.996, "the author's 8,188 MiB; sized with the sm_89 kernels"),
    "n058": FullPool("a100-80gb", 79.15, "A100-SXM4-80GB: 79.15 GiB (the GPU record's deviceQuery)"),
    # 8 RTX PRO 4500 Blackwell (sm_120: MXFP4 experts on Marlin, as the RTX 5090); the commenter's
    # table gives the weights per GPU, the failed start no pool.
    "n012": FullPool("rtx-5090", None, "", weights_only="a commenter's table: weights per GPU, no pool"),
    # H100 80GB HBM3 SXM: torch's 79.19 GiB (the GPU record; the study's nvidia-smi says 81,559 MiB).
    "n059": FullPool("h100-80gb", 79.19, "H100 SXM: torch's 79.19 GiB (the GPU record)"),
    # A Kaggle GPU of at least ~93 GiB (0.94 x total >= 58.99 + 28.41 GiB); neither named nor its total.
    "n036": FullPool("h200", None, "", weights_only="the GPU and its total are not printed"),
}

# Cases whose log prints the loaded weights but whose weights vram cannot size, and why.
WEIGHTS_UNSIZED: dict[str, str] = {
    "n044": "GLM-5.2-NVFP4 is a local ModelOpt checkpoint whose exclude_modules list is not published",
    "n014": "the quantization_config (ignore list) of Inferact's Qwen3.8-27B NVFP4 is not published",
}


@dataclass
class FullRow:
    id: str
    version: str
    profile: str
    model: str
    gpu: str
    tp: int
    pp: int
    total_gib: float | None
    util: float | None
    total_source: str
    weights_only: str | None
    # vram's terms, GiB per GPU
    weights_gib: float
    activation_gib: float | None = None
    non_torch_gib: float | None = None
    cuda_graphs_gib: float | None = None
    # False where the graphs come on top of the pool (0.19, and Model Runner V2 up to 0.28).
    cuda_graphs_in_budget: bool | None = None
    # Of activation_gib: the V2 runner's penalty state and request tables, made after the weights are
    # measured; from 0.27 vLLM counts them in its consumed memory, not in the peak activation.
    held_gib: float | None = None
    pool_gib: float | None = None
    tokens: int | None = None
    # the log's
    logged_weights_gib: float | None = None
    logged_consumed_gib: float | None = None  # 0.27+: "weights + non-torch" in one figure
    logged_activation_gib: float | None = None
    logged_non_torch_gib: float | None = None
    logged_cuda_graphs_gib: float | None = None  # the estimate the pool was sized with
    logged_captured_gib: float | None = None  # what the capture after the pool took (the breakdown)
    logged_pool_gib: float | None = None
    logged_tokens: int | None = None

    @property
    def weights_error(self) -> float | None:
        """Against "Model loading took" / the breakdown's weights (not 0.27's weights + non-torch)."""
        return self.weights_gib / self.logged_weights_gib - 1 if self.logged_weights_gib else None

    @property
    def pool_error(self) -> float | None:
        if self.pool_gib is None or not self.logged_pool_gib:
            return None
        return self.pool_gib / self.logged_pool_gib - 1

    @property
    def tokens_error(self) -> float | None:
        if self.tokens is None or not self.logged_tokens:
            return None
        return self.tokens / self.logged_tokens - 1


def _logged_text(case: dict[str, Any]) -> str:
    m = case["measured"]
    parts = [str(v) for k, v in m.items() if k != "raw_lines" and v] + list(m.get("raw_lines") or [])
    return "\n".join(parts)


def _gib_or_none(value: int) -> float:
    return round(value / GiB, 3)


def size_full(case: dict[str, Any]) -> FullRow | None:
    """vram's whole pool for a FULL_POOL case, term by term beside the log's figures."""
    setup = FULL_POOL.get(case["id"])
    release = _release(case["version"])
    if setup is None or release is None:
        return None
    path, _, overrides = CONFIGS[case["id"]]
    spec = load_model_spec(json.loads(path.read_text()))
    # The layout reads the GPU from the query (gated DeltaNet's prefill kernel from 0.33).
    query = _query(case, release, {**overrides, "gpu": setup.gpu_key})
    profile, _ = vllm.version_profile(query)
    text = _logged_text(case)
    total = setup.total_gib or _number(text, r"Free memory on device \([\d.]+/([\d.]+) GiB\)")
    gpu = lookup_gpu(setup.gpu_key)
    if total is not None:
        gpu = gpu.model_copy(update={"memory_bytes": int(total * GiB)})
    # With pipeline parallelism the logged loading and pool lines are the first rank's.
    first = stage_spec(spec, 0, query.pp) if query.pp > 1 else spec
    weights = weight_bytes(first, weight_format=query.weight_format, gpus=query.gpus)
    logged_tokens = _number(text, r"KV cache size: ([\d,]+) tokens") or _number(
        case["measured"].get("gpu_kv_cache_size_tokens"), r"^([\d,]+)"
    )
    row = FullRow(
        id=case["id"],
        version=case["version"],
        profile=profile.version,
        model=str(case.get("model_id"))[:60],
        gpu=str(case.get("gpu_model")).split(" (")[0][:30],
        tp=query.gpus,
        pp=query.pp,
        total_gib=total,
        util=case.get("gpu_memory_utilization"),
        total_source=setup.total_source,
        weights_only=setup.weights_only,
        weights_gib=_gib_or_none(vllm.loaded_weight_bytes(first, query, gpu, weights, vllm.query_constants(query))),
        logged_weights_gib=_number(text, r"Model loading took ([\d.]+) GiB")
        or _number(text, r"([\d.]+) GiB for weight")
        or _number(case["measured"].get("weights_per_gpu"), r"([\d.]+) GiB"),
        # Where an author gives the breakdown's figures in prose, the case's fields hold them.
        logged_consumed_gib=_number(text, r"([\d.]+) GiB for consumed memory")
        or _number(case["measured"].get("consumed_memory"), r"^([\d.]+) GiB"),
        logged_activation_gib=_number(text, r"([\d.]+) GiB for peak activation")
        or _number(case["measured"].get("peak_activation"), r"^([\d.]+) GiB"),
        logged_non_torch_gib=_number(text, r"([\d.]+) GiB for non-torch memory"),
        logged_cuda_graphs_gib=_number(text, r"\(actual\), ([\d.]+) GiB \(estimated\)")
        or _number(text, r"Estimated CUDA graph memory: (-?[\d.]+) GiB"),
        logged_captured_gib=_number(text, r"([\d.]+) GiB for CUDAGraph memory")
        or _number(case["measured"].get("cudagraph_memory"), r"^([\d.]+) GiB"),
        logged_pool_gib=_number(text, r"Available KV cache memory: ([\d.]+) GiB")
        or _number(case["measured"].get("available_kv_cache_memory"), r"^([\d.]+) GiB")
        or _number(text, r"Current kv cache memory in use is ([\d.]+) GiB"),
        logged_tokens=int(logged_tokens) if logged_tokens else None,
    )
    if setup.weights_only or total is None:
        return row
    report = vllm.vllm_report(spec, query, weights_bytes=weights, gpu=gpu)
    row.activation_gib = _gib_or_none(report.activation_peak)
    row.non_torch_gib = _gib_or_none(report.non_torch)
    row.cuda_graphs_gib = _gib_or_none(report.cuda_graphs)
    row.cuda_graphs_in_budget = report.cuda_graphs_in_budget
    row.pool_gib = _gib_or_none(report.kv_cache_memory)
    if profile.non_kv_accounting == "consumed" and vllm.uses_v2_runner(spec, query) and query.pp == 1:
        _, seqs = vllm.served_batch(spec, query, gpu)
        held = vllm.v2_sampler_state_bytes(spec, seqs) + vllm.v2_sampler_tables_bytes(
            spec, seqs, vllm.speculative_tokens(spec, query)
        )
        row.held_gib = _gib_or_none(held)
    if report.pipeline:
        # The first rank's terms beside its logged lines; the tokens are the engine's (fewest blocks).
        row.activation_gib = _gib_or_none(report.pipeline[0].activation_peak)
        row.pool_gib = _gib_or_none(report.pipeline[0].kv_cache_memory)
        row.tokens = report.kv_cache_tokens
        return row
    line = _token_line(case["version"], profile.kv_tokens_report)
    batched, _ = vllm.served_batch(spec, query, gpu)
    _, tokens, concurrency = vllm.kv_capacity(spec, query, report.kv_cache_memory, batched_tokens=batched)
    row.tokens = int(concurrency * query.seq_len) if line != profile.kv_tokens_report else tokens
    return row


def run_full() -> list[FullRow]:
    cases = [c for c in json.loads(CASES.read_text()) if c.get("engine") == "vllm"]
    return [row for c in cases if (row := size_full(c)) is not None]


def _stats(errors: list[float]) -> dict[str, float] | None:
    if not errors:
        return None
    values = sorted(abs(e) for e in errors)
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p90": values[min(len(values) - 1, round(0.9 * (len(values) - 1)))],
        "max": values[-1],
    }


def full_summary(rows: list[FullRow]) -> dict[str, dict[str, Any]]:
    """Per release: |error| of the KV tokens from vram's own pool, of the pool, of the weights."""
    out: dict[str, dict[str, Any]] = {}
    for version in sorted({r.profile for r in rows}, key=lambda v: tuple(int(p) for p in v.split("."))):
        mine = [r for r in rows if r.profile == version]
        out[version] = {
            "cases": len(mine),
            "tokens": _stats([e for r in mine if (e := r.tokens_error) is not None]),
            "pool": _stats([e for r in mine if (e := r.pool_error) is not None]),
            "weights": _stats([e for r in mine if (e := r.weights_error) is not None]),
        }
    return out


def _pair(mine: float | None, logged: float | None) -> str:
    if mine is None:
        return ""
    if logged is None:
        return f"{mine:.2f} / -"
    if logged <= 0:  # a negative CUDA-graph estimate (unified memory): no ratio to give
        return f"{mine:.2f} / {logged:.2f}"
    return f"{mine:.2f} / {logged:.2f} ({_pct(mine / logged - 1)})"


def full_markdown(rows: list[FullRow], version: str) -> list[str]:
    mine = [r for r in rows if r.profile == version]
    if not mine:
        return []
    lines = [
        f"Whole pool, vLLM {version} (vram's own terms, GiB per GPU, vram / logged):",
        "",
        "| case | model | GPU x TP, total, util | weights | activation peak | non-torch | CUDA graphs "
        "(estimate) | KV pool | KV tokens from vram's pool / logged |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in mine:
        weights = _pair(r.weights_gib, r.logged_weights_gib)
        held = r.held_gib or 0.0
        if r.logged_consumed_gib and r.non_torch_gib is not None:
            extra = " + V2 sampler state" if r.held_gib else ""
            consumed = _pair(r.weights_gib + held + r.non_torch_gib, r.logged_consumed_gib)
            weights = f"{r.weights_gib:.2f}; + non-torch{extra} {consumed}"
        setup = f"{r.gpu} x {r.tp}" + (f" x PP {r.pp}" if r.pp > 1 else "")
        if r.weights_only:
            setup += f"; weights only: {r.weights_only}"
        else:
            setup += f", {r.total_gib} GiB ({r.total_source}), util {r.util}"
        tokens = (
            f"{r.tokens:,} / {r.logged_tokens:,} ({_pct(r.tokens_error)})"
            if r.tokens is not None and r.logged_tokens
            else ""
        )
        activation = _pair(r.activation_gib, r.logged_activation_gib)
        if r.logged_consumed_gib and r.held_gib and r.activation_gib is not None:
            # The log's peak activation is the transient alone; vram's state is in the consumed figure.
            peak = _pair(r.activation_gib - held, r.logged_activation_gib)
            activation = f"{r.activation_gib:.2f}; less the state {peak}"
        graphs = _pair(r.cuda_graphs_gib, r.logged_cuda_graphs_gib)
        if r.cuda_graphs_in_budget is False:
            captured = _pair(r.cuda_graphs_gib, r.logged_captured_gib) if r.logged_captured_gib else graphs
            graphs = f"{captured} (on top of the pool)"
        if (
            r.logged_consumed_gib
            and r.activation_gib is not None
            and r.cuda_graphs_gib is not None
            and r.cuda_graphs_in_budget
        ):
            # 0.27+: the logged peak activation includes the applied CUDA-graph estimate.
            both = _pair(r.activation_gib + r.cuda_graphs_gib, r.logged_activation_gib)
            activation = f"{r.activation_gib:.2f}; + graphs {both}"
        lines.append(
            f"| {r.id} ({r.version.split(' (')[0]}) | {r.model} | {setup} | {weights} | "
            f"{activation} | {_pair(r.non_torch_gib, r.logged_non_torch_gib)} | "
            f"{graphs} | "
            f"{_pair(r.pool_gib, r.logged_pool_gib)} | {tokens} |"
        )
    entry = full_summary(rows)[version]
    parts = []
    for key, label in (("tokens", "KV tokens from vram's pool"), ("pool", "pool"), ("weights", "weights")):
        if (s := entry[key]) is not None:
            parts.append(
                f"{label} |error| median {s['median'] * 100:.2f}%, p90 {s['p90'] * 100:.2f}%, "
                f"max {s['max'] * 100:.2f}% on {s['n']} case(s)"
            )
    lines += ["", "; ".join(parts) + ".", ""]
    return lines


def run() -> list[Row]:
    cases = [c for c in json.loads(CASES.read_text()) if c.get("engine") == "vllm"]
    return [size_case(c) for c in cases]


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value * 100:+.1f}%"


def summary(rows: list[Row]) -> dict[str, dict[str, Any]]:
    """Per release: KV-token errors (from the logged pool), and the start/fail verdicts."""
    out: dict[str, dict[str, Any]] = {}
    for row in rows:
        if row.profile is None:
            continue
        entry = out.setdefault(row.profile, {"cases": 0, "errors": [], "verdicts": 0, "verdicts_right": 0})
        entry["cases"] += 1
        if row.tokens_error is not None:
            entry["errors"].append(abs(row.tokens_error))
        if row.verdict_right is not None:
            entry["verdicts"] += 1
            entry["verdicts_right"] += int(row.verdict_right)
        if row.needed_gib is not None and row.logged_needed_gib is not None:
            entry["needed"] = entry.get("needed", 0) + 1
            entry["needed_right"] = entry.get("needed_right", 0) + int(row.needed_gib == row.logged_needed_gib)
    for entry in out.values():
        errors = sorted(entry.pop("errors"))
        entry["kv_tokens_checked"] = len(errors)
        if errors:
            entry["median"] = statistics.median(errors)
            entry["p90"] = errors[min(len(errors) - 1, round(0.9 * (len(errors) - 1)))]
            entry["max"] = errors[-1]
    return dict(sorted(out.items(), key=lambda kv: tuple(int(p) for p in kv[0].split("."))))


def _group(reasons: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for case, reason in sorted(reasons.items()):
        out.setdefault(reason, []).append(case)
    return out


def _signed_pct(values: list[float]) -> str:
    return ", ".join(_pct(v) for v in sorted(values))


def overview(rows: list[Row], full: list[FullRow]) -> list[str]:
    """One row per release vram follows after 0.19: what the logs check, and vram's whole pool against
    the logged one (signed, vram / logged - 1: positive is an optimistic answer)."""
    summaries = summary(rows)
    releases = [v for v in vllm.PROFILES if v != vllm.VLLM_VERSION]
    lines = [
        "| release | cases sized | KV tokens from the logged pool, median / max |error| | start/fail verdicts right "
        "| whole pool, vram / logged |",
        "|---|---|---|---|---|",
    ]
    pool_errors: list[float] = []
    for version in releases:
        entry = summaries.get(version)
        pools = [e for r in full if r.profile == version and (e := r.pool_error) is not None]
        pool_errors += pools
        if entry is None and not pools:
            held = [r.id for r in rows if _release(r.version) == version]
            why = f"{len(held)} case(s) held, none sized (below)" if held else "no published start-up log found"
            lines.append(f"| {version} | 0 | {why} | | |")
            continue
        tokens = (
            f"{entry['median'] * 100:.2f}% / {entry['max'] * 100:.2f}% ({entry['kv_tokens_checked']})"
            if entry and entry["kv_tokens_checked"]
            else ""
        )
        if entry and not tokens and entry.get("needed"):
            tokens = (
                f"no KV-token line; the fit check's KV need as logged in {entry['needed_right']} of "
                f"{entry['needed']} refusal(s)"
            )
        verdicts = f"{entry['verdicts_right']} of {entry['verdicts']}" if entry else ""
        lines.append(
            f"| {version} | {entry['cases'] if entry else 0} | {tokens} | {verdicts} | {_signed_pool(pools)} |"
        )
    high = [e for e in pool_errors if e > 0]
    missing = [
        v
        for v in releases
        if v not in summaries
        and not any(r.profile == v for r in full)
        and not any(_release(r.version) == v for r in rows)
    ]
    lines += [
        "",
        f"The layout after the budget is exact on the logged pools; the budget itself is not: vram's whole pool "
        f"is larger than the logged one in {len(high)} of {len(pool_errors)} whole-pool checks "
        f"(median {statistics.median(pool_errors) * 100:+.1f}%, largest {max(pool_errors) * 100:+.1f}%), so "
        "answers on these releases can be optimistic by that much where the start-up differs from the profiled "
        "one (cold torch.compile, unified memory, pipeline stages; see the tables below). The v0.19 targets above "
        "do not cover them. "
        + (
            f"No published start-up log of {', '.join(missing)} was found: those answers follow the source of the "
            "release (docs/engine-notes.md) and are not checked against a log."
            if missing
            else ""
        ),
        "",
    ]
    return lines


def _signed_pool(pools: list[float]) -> str:
    return _signed_pct(pools) if pools else ""


def markdown(rows: list[Row], full: list[FullRow] | None = None) -> str:
    full = run_full() if full is None else full
    lines: list[str] = overview(rows, full)
    summaries = summary(rows)
    versions = sorted(set(summaries) | {r.profile for r in full}, key=lambda v: tuple(int(p) for p in v.split(".")))
    for version in versions:
        if version not in summaries:
            lines += [f"#### vLLM {version}", "", "No case of this release logs its pool with a model vram sizes.", ""]
            lines += full_markdown(full, version)
            continue
        entry = summaries[version]
        lines += [
            f"#### vLLM {version}",
            "",
            "| case | model | GPU x TP | max_model_len | KV tokens (from logged pool) / logged | "
            "max concurrency | start / logged |",
            "|---|---|---|---|---|---|---|",
        ]
        for row in rows:
            if row.profile != version:
                continue
            tokens = (
                f"{row.tokens_from_pool:,} / {row.logged_tokens:,} ({_pct(row.tokens_error)})"
                if row.tokens_from_pool is not None and row.logged_tokens
                else ""
            )
            if tokens and row.tokens_range is not None and row.tokens_range[0] != row.tokens_range[1]:
                tokens += f"; {row.tokens_range[0]:,}-{row.tokens_range[1]:,} over the pool's rounding"
            conc = (
                f"{row.concurrency_from_pool:.2f} / {row.logged_concurrency:.2f}"
                if row.concurrency_from_pool is not None and row.logged_concurrency is not None
                else ""
            )
            start = f"{row.start_from_pool} / {row.logged_start}"
            if row.logged_pool_gib is not None and row.logged_pool_gib <= 0:
                start += f": no memory for the cache blocks (logged pool {row.logged_pool_gib} GiB)"
            elif row.estimated_max_len is not None:
                start += f": needs {row.needed_gib} GiB (logged {row.logged_needed_gib}) of {row.logged_pool_gib} GiB"
                if row.logged_estimated_max_len is not None:
                    start += (
                        f"; estimated max length {row.estimated_max_len:,} (logged {row.logged_estimated_max_len:,})"
                    )
                else:
                    start += f"; estimated max length {row.estimated_max_len:,} (not quoted)"
            logged_version = row.version.split(" (")[0]
            if row.id in RELEASES_INFERRED:
                logged_version = f"{RELEASES_INFERRED[row.id]} inferred"
            gpu = row.gpu
            if (card := CONFIGS[row.id][2].get("gpu")) is not None:
                gpu += f" (sized as {lookup_gpu(card).name})"
            lines.append(
                f"| {row.id} ({logged_version}) | {row.model} | {gpu} x {row.tp}"
                f"{f' x PP {row.pp}' if row.pp > 1 else ''} | "
                f"{row.max_model_len or ''} | {tokens} | {conc} | {start} |"
            )
        stats = (
            f"KV tokens |error| median {entry['median'] * 100:.2f}%, p90 {entry['p90'] * 100:.2f}%, "
            f"max {entry['max'] * 100:.2f}% on {entry['kv_tokens_checked']} case(s)"
            if entry["kv_tokens_checked"]
            else "no KV-token line to compare"
        )
        lines += ["", f"{stats}; start/fail verdict right on {entry['verdicts_right']} of {entry['verdicts']}.", ""]
        lines += full_markdown(full, version)
    skipped = [row for row in rows if row.skipped]
    reasons: dict[str, list[str]] = {}
    for row in skipped:
        reasons.setdefault(row.skipped or "", []).append(row.id)
    lines += [
        "Whole pool not checked where the log prints the loaded weights: "
        + "; ".join(f"{reason}: {', '.join(ids)}" for reason, ids in _group(WEIGHTS_UNSIZED).items())
        + ". The DGX Spark (GB10) cases are sized with the catalog's gb10 total (121.69 GiB, printed by other "
        "Spark logs); on unified memory vLLM counts what the OS's available memory loses while it loads and "
        "profiles as non-torch memory, and reads its CUDA-graph estimate from free memory the OS moves, so "
        "their pools depend on the host at start-up and are not calibrated; the MiniMax-M2.7-AWQ Spark runs "
        "(n015, n016) print no weights and have no config of their community AWQ checkpoint.",
        "",
        f"Not sized: {len(skipped)} of {len(rows)} vLLM cases. "
        + "; ".join(f"{reason}: {', '.join(ids)}" for reason, ids in reasons.items())
        + ".",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows, full = run(), run_full()
    if args.json:
        payload = {
            "rows": [asdict(r) for r in rows],
            "summary": summary(rows),
            "whole_pool": [asdict(r) for r in full],
            "whole_pool_summary": full_summary(full),
        }
        print(json.dumps(payload, indent=1))
    else:
        print(markdown(rows, full))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
