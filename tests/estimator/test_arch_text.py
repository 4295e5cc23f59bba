"""Text types built from their layer kinds (estimator.layerkinds): parameters and cache against the
transformers oracle (tests/fixtures/oracle), and some parts by hand from the config's widths."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from estimator.config import load_model_spec
from estimator.kv import kv_cache_bytes

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "oracle" / "transformers-5.25.json"

pytestmark = pytest.mark.skipif(not FIXTURE.exists(), reason="the oracle fixture is not in this checkout")

EXACT = [
    "axk1",
    "axk2",
    "bailing_hybrid",
    "cosmos3_edge",
    "ctrl",
    "diffllama",
    "doge",
    "dory",
    "dots1",
    "ergo",
    "gpt_neox_japanese",
    "hrm_text",
    "hy_v4",
    "jetmoe",
    "kolibri1_1",
    "lara_mini",
    "lfm3",
    "modernbert-decoder",
    "muse_glimmer",
    "muse_spark",
]


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return json.loads(FIXTURE.read_text())


def _config(doc: dict[str, Any], model_type: str) -> dict[str, Any]:
    return json.loads((FIXTURE.parent / doc["types"][model_type]["config_file"]).read_text())


def _oracle_total(doc: dict[str, Any], model_type: str) -> int:
    return int(next(iter(doc["types"][model_type]["params"].values()))["total"])


def _cache(spec: Any, lengths: tuple[int, int] = (32, 64)) -> tuple[int, int]:
    """Bytes per token and fixed bytes per sequence, in bf16 as the oracle ran."""
    bf16 = spec.model_copy(update={"torch_dtype": "bf16"})
    b1, b2 = (kv_cache_bytes(bf16, seq_len=n, batch=1, kv_dtype="bf16") for n in lengths)
    per_token = (b2 - b1) // (lengths[1] - lengths[0])
    return per_token, b1 - per_token * lengths[0]


@pytest.mark.parametrize("model_type", EXACT)
def test_parameters_and_cache_match_the_oracle(model_type: str, doc: dict[str, Any]) -> None:
    spec = load_model_spec(_config(doc, model_type))
    assert not spec.unread, spec.unread
    assert spec.params.total == _oracle_total(doc, model_type)
    cache = doc["types"][model_type]["cache"]
    assert _cache(spec) == (cache["bytes_per_token"], cache["fixed_bytes_per_sequence"])


def test_diffllama_adds_four_lambda_vectors_per_layer(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "diffllama")
    llama = load_model_spec({**cfg, "model_type": "llama"})
    diff = load_model_spec(cfg)
    assert diff.params.total - llama.params.total == 16 * 4 * 64  # 16 layers, lambda_q1/k1/q2/k2 of head_dim 64


def test_jetmoe_attention_experts_by_hand(doc: dict[str, Any]) -> None:
    # hidden 2048, 16 KV heads of 128, 8 experts (2 per token), 12 layers
    spec = load_model_spec(_config(doc, "jetmoe"))
    h, width, experts, layers = 2048, 16 * 128, 8, 12
    kv_proj = h * 2 * width
    assert spec.params.attention == layers * (kv_proj + h)  # kv_proj and the mixture's output bias
    q_o_experts = layers * experts * 2 * h * width
    mlp_experts = layers * experts * 3 * h * 5632
    assert spec.params.routed_experts == q_o_experts + mlp_experts + layers * h  # + the MoE output bias
    assert spec.params.router == layers * 2 * (experts * h)  # one router for attention, one for the MLP
    # a token touches 2 of 8 q/o experts and 2 of 8 MLP experts
    inactive = layers * 6 * (2 * h * width + 3 * h * 5632)
    assert spec.params.active == spec.params.total - inactive


def test_ctrl_keeps_the_lm_head_bias_when_tied(doc: dict[str, Any]) -> None:
    spec = load_model_spec(_config(doc, "ctrl"))
    assert spec.tie_word_embeddings
    assert spec.params.lm_head == 246534  # the bias only: the weight is the embedding
    assert spec.intermediate_size == 8192  # from dff


def test_gpt_neox_japanese_mlp_width_and_last_layer_bias(doc: dict[str, Any]) -> None:
    spec = load_model_spec(_config(doc, "gpt_neox_japanese"))
    h, layers = 2560, 32
    assert spec.params.dense_mlp == layers * 2 * h * 4 * h  # intermediate_multiple_size 4, no biases
    assert spec.params.attention == layers * 4 * h * h + h  # fused q/k/v and dense; one bias, last layer


def test_lfm3_switches_follow_the_config(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "lfm3")
    on = load_model_spec(cfg)
    off = load_model_spec({**cfg, "use_attention_gate": False, "use_sandwich_norm": False})
    h, heads, attention_layers, layers = 2048, 16, 11, 24
    assert on.params.attention - off.params.attention == attention_layers * h * heads  # g_proj per head
    assert on.params.norms - off.params.norms == layers * 2 * h  # post-operator and post-MLP norms


def test_hy_v4_shared_indexers_cache_no_indexer_key(doc: dict[str, Any]) -> None:
    spec = load_model_spec(_config(doc, "hy_v4"))
    full = doc["types"]["hy_v4"]["config_file"]
    types = json.loads((FIXTURE.parent / full).read_text())["indexer_types"]
    assert [layer.index_dim > 0 for layer in spec.layers] == [t == "full" for t in types]


def test_doge_moe_is_refused(doc: dict[str, Any]) -> None:
    spec = load_model_spec({**_config(doc, "doge"), "is_moe": True})
    assert spec.unread and "is_moe" in spec.unread[0]


def test_minimax_lightning_state_by_hand(doc: dict[str, Any]) -> None:
    # The oracle reads MiniMaxCache's attention layers but not its linear_cache (the lightning state):
    # parameters and bytes per token against the oracle, the state from its shape [heads, head_dim, head_dim].
    spec = load_model_spec(_config(doc, "minimax"))
    assert not spec.unread
    assert spec.params.total == _oracle_total(doc, "minimax")
    per_token, fixed = _cache(spec)
    assert per_token == doc["types"]["minimax"]["cache"]["bytes_per_token"]
    lightning_layers, heads, head_dim = 16, 32, 128  # layer_types alternate, linear_attention second
    assert fixed == lightning_layers * heads * head_dim * head_dim * 2  # bf16, as value_states


def test_kolibri1_1_layers_reading_another_layers_kv_cache_nothing(doc: dict[str, Any]) -> None:
    cfg = _config(doc, "kolibri1_1")
    spec = load_model_spec(cfg)
    sources = cfg["kv_source_layers"]
    readers = [i for i, s in enumerate(sources) if s != i]
    assert readers and all(spec.layers[i].kind == "none" for i in readers)
    # Without the sharing every reader would hold its own k/v projections and k norm.
    alone = load_model_spec({**cfg, "kv_source_layers": list(range(len(sources)))})
    h, kv_width, head_dim = 2560, 4 * 128, 128
    assert alone.params.attention - spec.params.attention == len(readers) * (2 * h * kv_width + head_dim)


def test_cosmos3_edge_tower_by_hand(doc: dict[str, Any]) -> None:
    # SigLIP2: 1152 wide, 27 layers, MLP 4304, 16 px patches, 256 learned positions; merger 4 x 1152 -> 11520 -> 2048.
    spec = load_model_spec(_config(doc, "cosmos3_edge"))
    hv, inter = 1152, 4304
    layer = 4 * (hv * hv + hv) + 2 * hv * inter + inter + hv + 4 * hv
    tower = 3 * 16 * 16 * hv + hv + 256 * hv + 27 * layer + 2 * hv
    projector = 2 * hv + 4 * hv * 11520 + 11520 + 11520 * 2048 + 2048
    assert spec.params.vision == tower + projector
    breakdown = doc["types"]["cosmos3_edge"]["params"]["MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"]["breakdown"]
    assert spec.params.vision == breakdown["vision"] + breakdown["projector"]


def test_muse_glimmer_tower_by_hand(doc: dict[str, Any]) -> None:
    # 1536 wide, 50 layers, MLP 8960, 14 px patches over 2 frames, a 32 x 32 position grid;
    # adapter 6144 -> 4096 -> 4096, projection 4096 -> 6656 (no biases).
    spec = load_model_spec(_config(doc, "muse_glimmer"))
    hv, inter = 1536, 8960
    layer = 4 * hv + 4 * (hv * hv + hv) + 2 * hv * inter + inter + hv
    tower = 2 * 3 * 14 * 14 * hv + 32 * 32 * hv + 2 * hv + 50 * layer + 2 * hv
    assert spec.params.vision == tower + 6144 * 4096 + 4096 * 4096 + 4096 * 6656


def test_muse_spark_audio_encoder_by_hand(doc: dict[str, Any]) -> None:
    # Stages of 256 / 512 / 1024 / 2048 channels, patches 16 / 6 / 5 / 4, two blocks each (kernel 7, MLP x4),
    # then a norm, a projection to 8192 and its norm.
    def stage(prev: int, width: int, patch: int) -> int:
        block = width * 7 + width + width + 2 * width * 4 * width + 4 * width + width
        return prev * patch * width + 2 * width + 2 * block

    audio = stage(1, 256, 16) + stage(256, 512, 6) + stage(512, 1024, 5) + stage(1024, 2048, 4)
    audio += 2048 + 2048 * 8192 + 8192 + 8192
    breakdown = doc["types"]["muse_spark"]["params"]["MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES"]["breakdown"]
    assert audio == breakdown["audio"]
    spec = load_model_spec(_config(doc, "muse_spark"))
    glimmer = load_model_spec(_config(doc, "muse_glimmer"))
    # the same tower and adapter; the projection goes to 8192 wide text instead of 6656
    assert spec.params.vision - audio - glimmer.params.vision == 4096 * (8192 - 6656)


def test_step3p7_parameters_and_tower_by_hand(doc: dict[str, Any]) -> None:
    # The oracle's forward failed (no cache to compare); its meta-device count stands.
    spec = load_model_spec(_config(doc, "step3p7"))
    assert not spec.unread
    assert spec.params.total == _oracle_total(doc, "step3p7")
    # ViT 1536 wide, 47 layers, MLP 8960, 14 px patches of 728 px images; convs 1536 -> 3072 -> 6144 (3x3);
    # projector 6144 -> 4096 without a bias.
    hv, inter = 1536, 8960
    layer = 4 * hv + 4 * (hv * hv + hv) + 2 * hv * inter + inter + hv + 2 * hv
    tower = 3 * 14 * 14 * hv + 52 * 52 * hv + 2 * hv + 47 * layer
    convs = hv * 2 * hv * 9 + 2 * hv + 2 * hv * 4 * hv * 9 + 4 * hv
    assert spec.params.vision == tower + convs + 4 * hv * 4096


def test_step3p5_legacy_head_override_is_refused(doc: dict[str, Any]) -> None:
    text = {**_config(doc, "step3p7")["text_config"], "attention_other_setting": {"num_attention_heads": 96}}
    assert load_model_spec(text).unread


def test_hrm_text_weights_are_two_stacks_run_in_cycles(doc: dict[str, Any]) -> None:
    # 2 stacks of 16 layers hold the weights; 2 H-cycles x (3 L-cycles + 1) x 16 = 128 passes cache keys/values.
    spec = load_model_spec(_config(doc, "hrm_text"))
    h, width, inter = 1536, 12 * 128, 4096
    layer = 3 * h * width + width * h + h * width + 3 * h * inter  # q, k, v, o, gate; gated MLP
    assert spec.params.total == 2 * 151808 * h + 32 * layer + h  # embedding, lm_head, layers, z_L_init
    assert len(spec.layers) == 128 and {layer.kind for layer in spec.layers} == {"full"}


def test_dory_caches_every_loop_of_its_recurrent_layers(doc: dict[str, Any]) -> None:
    # The saved config counts (attention, MLP) pairs: 72 entries are 36 layers, 8 input, 20 recurrent, 8 output.
    cfg = _config(doc, "dory")
    per_loop = load_model_spec(cfg)
    assert len(per_loop.layers) == 36 + 20  # the second loop caches its own keys and values
    last_loop = load_model_spec({**cfg, "recurrent_kv_cache_mode": "last_loop"})
    assert [layer.kind for layer in last_loop.layers[36:]] == ["none"] * 20
    assert per_loop.params.total == last_loop.params.total
