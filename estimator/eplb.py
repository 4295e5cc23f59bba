"""The architectures vLLM serves with EPLB (``--enable-eplb``), per release.

vLLM builds EPLB's state and places redundant experts only for models whose class implements its
``MixtureOfExperts`` interface (gpu_model_runner.py ``load_model``: ``add_model`` only for such a
model; the others construct FusedMoE with ``num_redundant_experts=0`` and start without EPLB). The
sets come from the release wheels by ``tools/gen_vllm_eplb.py`` (the registered architectures whose
class derives from ``MixtureOfExperts``): 0.27.1's whole, then what each later wheel read adds or
drops (0.31.0 changes nothing from 0.30.0). A release between two read wheels takes the older set,
releases before 0.27 take 0.27.1's, and 0.34 takes 0.33.0's.
"""

from __future__ import annotations

import re

from estimator.spec import ModelSpec

# vllm-0.27.1 wheel: 50 architectures.
_EPLB_0_27 = frozenset(
    {
        "AXK1ForCausalLM",
        "AfmoeForCausalLM",
        "DeepSeekMTPModel",
        "DeepseekForCausalLM",
        "DeepseekV2ForCausalLM",
        "DeepseekV32ForCausalLM",
        "DeepseekV3ForCausalLM",
        "DeepseekV4ForCausalLM",
        "Eagle3DeepseekV2ForCausalLM",
        "Eagle3DeepseekV3ForCausalLM",
        "EagleDeepSeekMTPModel",
        "EagleLlama4ForCausalLM",
        "EagleMistralLarge3ForCausalLM",
        "Ernie4_5_MoeForCausalLM",
        "Gemma4ForCausalLM",
        "Glm4MoeForCausalLM",
        "Glm4MoeLiteForCausalLM",
        "Glm4MoeLiteMTPModel",
        "Glm4MoeMTPModel",
        "GlmMoeDsaForCausalLM",
        "HunYuanMoEV1ForCausalLM",
        "InternS1ProForConditionalGeneration",
        "InternS2PreviewForConditionalGeneration",
        "KimiLinearForCausalLM",
        "Lfm2MoeForCausalLM",
        "Llama4ForCausalLM",
        "Llama4ForConditionalGeneration",
        "MellumForCausalLM",
        "MiMoV2FlashForCausalLM",
        "MiMoV2ForCausalLM",
        "MistralLarge3ForCausalLM",
        "MixtralForCausalLM",
        "NemotronHForCausalLM",
        "NemotronHPuzzleForCausalLM",
        "PanguProMoEV2ForCausalLM",
        "PanguUltraMoEForCausalLM",
        "Param2MoEForCausalLM",
        "Qwen3MoeForCausalLM",
        "Qwen3NextForCausalLM",
        "Qwen3NextMTP",
        "Qwen3VLMoeForConditionalGeneration",
        "Qwen3_5MoeForCausalLM",
        "Qwen3_5MoeForConditionalGeneration",
        "Qwen3_5MoeMTP",
        "SarvamMLAForCausalLM",
        "Step3p5ForCausalLM",
        "TransformersMoEEmbeddingModel",
        "TransformersMoEForCausalLM",
        "TransformersMoEForSequenceClassification",
        "TransformersMultiModalMoEForCausalLM",
    }
)
# vllm-0.30.0 wheel (and 0.31.0, the same): 61.
_ADDED_0_30 = frozenset(
    {
        "DeepseekV32MTPModel",
        "DeepseekV3BidirectionalModel",
        "Dots3NoteMTPModel",
        "FlexOlmoForCausalLM",
        "Glm5NextForCausalLM",
        "Glm5NextForConditionalGeneration",
        "Glm5NextMTPModel",
        "InternS2MobiusForConditionalGeneration",
        "InternS2MobiusMTP",
        "K2HorizonForCausalLM",
        "Qwen4ExpForCausalLM",
        "Qwen4ExpForConditionalGeneration",
        "Qwen4ExpMTP",
    }
)
_DROPPED_0_30 = frozenset({"EagleLlama4ForCausalLM", "EagleMistralLarge3ForCausalLM"})
# vllm-0.33.0 wheel: 70.
_ADDED_0_33 = frozenset(
    {
        "AliceAIForCausalLM",
        "BeamForCausalLM",
        "DSparkDraftModel",
        "DSparkV41DraftModel",
        "Kolibri1ForCausalLM",
        "MuseSparkForConditionalGeneration",
        "Step5ForCausalLM",
        "Step5MTP",
        "TransformersMoEForMTP",
    }
)

_EPLB_0_30 = (_EPLB_0_27 | _ADDED_0_30) - _DROPPED_0_30
_EPLB_0_33 = _EPLB_0_30 | _ADDED_0_33
# (major, minor) from which each set holds.
_BY_RELEASE = (((0, 33), _EPLB_0_33), ((0, 30), _EPLB_0_30), ((0, 0), _EPLB_0_27))


def _release(version: str | None) -> tuple[int, int]:
    match = re.match(r"v?(\d+)\.(\d+)", version or "")
    return (int(match.group(1)), int(match.group(2))) if match else (10**6, 0)  # None: the newest


def eplb_served(spec: ModelSpec, version: str | None) -> bool:
    """Whether vLLM ``version`` (None: the newest followed) balances this model's experts with EPLB."""
    release = _release(version)
    architectures = next(s for since, s in _BY_RELEASE if release >= since)
    return bool(spec.num_experts) and any(a in architectures for a in spec.architectures)
