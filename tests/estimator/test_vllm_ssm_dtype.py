"""The recurrent state's dtype in vLLM follows the config's ``mamba_ssm_dtype`` where vLLM's Qwen3.5
config hook applies it (float32 in the published Qwen3.5/3.6 configs); a config without it keeps
"auto", the model dtype. ``details.kv_fixed_bytes_per_sequence`` is that state as vLLM keeps it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from common.errors import ConfigError
from estimator.config import load_model_spec
from estimator.engines.vllm import VllmReport
from estimator.estimate import Estimate, estimate
from estimator.query import Query

CONFIG = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "calibration2" / "configs" / "qwen3_5_27b.json").read_text()
)
# Qwen3.5-27B: 48 gated DeltaNet layers of 16 key heads and 48 value heads of 128; conv kernel 4.
GDN_LAYERS = 48
CONV = (2 * 16 + 48) * 128 * (4 - 1) * 2  # vLLM keeps kernel - 1 columns, in bf16: 61,440 B
STATE_ELEMENTS = 48 * 128 * 128  # 786,432


def ask(config: dict, **kw: object) -> Estimate:
    q = Query(model="q", seq_len=32_768, engine="vllm", vllm="0.34", gpu="h100", **kw)
    return estimate(load_model_spec(config), q, model_id="q")


def without_field() -> dict:
    config = copy.deepcopy(CONFIG)
    del config["text_config"]["mamba_ssm_dtype"]
    return config


def test_the_published_float32_state() -> None:
    est = ask(CONFIG)
    assert est.details.kv_fixed_bytes_per_sequence == GDN_LAYERS * (CONV + STATE_ELEMENTS * 4) == 153_944_064
    assert isinstance(est.engine_report, VllmReport) and est.engine_report.block_size == 832


def test_a_config_without_the_field_keeps_the_model_dtype() -> None:
    est = ask(without_field())
    assert est.details.kv_fixed_bytes_per_sequence == GDN_LAYERS * (CONV + STATE_ELEMENTS * 2) == 78_446_592
    # A page half the size needs a smaller attention block to hold it.
    assert isinstance(est.engine_report, VllmReport) and est.engine_report.block_size < 832
    # transformers keeps its own fp32 state and the whole conv window, whatever the config says.
    hf = estimate(load_model_spec(without_field()), Query(model="q", seq_len=1024), model_id="q")
    assert hf.details.kv_fixed_bytes_per_sequence == GDN_LAYERS * ((2 * 16 + 48) * 128 * 4 * 2 + STATE_ELEMENTS * 4)


def test_tensor_parallelism_splits_the_state() -> None:
    est = ask(CONFIG, gpus=2)
    assert est.details.kv_fixed_bytes_per_sequence == GDN_LAYERS * (CONV + STATE_ELEMENTS * 4) // 2


def test_auto_is_the_model_dtype() -> None:
    # vLLM's own word for "the model's dtype": as if the field were not there.
    config = copy.deepcopy(CONFIG)
    config["text_config"]["mamba_ssm_dtype"] = "auto"
    assert load_model_spec(config).mamba_ssm_dtype is None
    assert ask(config).details.kv_fixed_bytes_per_sequence == ask(without_field()).details.kv_fixed_bytes_per_sequence


def test_an_unknown_state_dtype_is_refused() -> None:
    config = copy.deepcopy(CONFIG)
    config["text_config"]["mamba_ssm_dtype"] = "float8"
    with pytest.raises(ConfigError, match="mamba_ssm_dtype 'float8'"):
        load_model_spec(config)
