"""draft=/spec= at the terminal: the drafter is read from the (fake) Hub like the model, and --json
and the answer show what it adds."""

from __future__ import annotations

import json

from bot.settings import Settings
from tests.bot.test_cli import vram
from tests.fakehub import FakeHub, dflash_drafter_tensors, safetensors_file

# A DFlash drafter for Qwen3-8B in the published checkpoints' form (a qwen3 config with the DFlash
# architecture and dflash_config; its shape is this test's: 2 layers of the target's width).
DRAFTER = {
    "architectures": ["DFlashDraftModel"],
    "model_type": "qwen3",
    "torch_dtype": "bfloat16",
    "hidden_size": 4096,
    "intermediate_size": 12288,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "num_hidden_layers": 2,
    "vocab_size": 151936,
    "max_position_embeddings": 40960,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000,
    "tie_word_embeddings": False,
    "block_size": 16,
    "dflash_config": {"mask_token_id": 151669, "target_layer_ids": [1, 17, 33]},
}


def _add_drafter(hub: FakeHub) -> None:
    hub.add_repo(
        "acme/Qwen3-8B-DFlash",
        {
            "config.json": json.dumps(DRAFTER).encode(),
            "model.safetensors": safetensors_file(dflash_drafter_tensors(DRAFTER)),
        },
    )


def test_the_drafter_is_read_and_shown(fake_hub: FakeHub, sqlite_url: str) -> None:
    _add_drafter(fake_hub)
    settings = Settings(database_url=sqlite_url, hf_endpoint=fake_hub.url)
    # vllm=0.33: the KV row is whole blocks of exactly these bytes (0.34 adds its granules).
    args = ["Qwen/Qwen3-8B", "engine=vllm", "gpu=h100", "s=32k", "draft=acme/Qwen3-8B-DFlash", "spec=4", "vllm=0.33"]
    code, out, err = vram([*args, "--json"], settings)
    assert code == 0, err
    data = json.loads(out)
    assert (data["inputs"]["draft"], data["inputs"]["spec"]) == ("acme/Qwen3-8B-DFlash", 4)
    drafter = data["vllm"]["drafter"]
    # Weights (bf16, one GPU): per layer q 4096x4096 + k, v 1024x4096 + o 4096x4096 + q/k norms 2 x 128
    # = 41,943,296 and MLP 3 x 4096 x 12288 = 150,994,944; 2 layers = 385,876,480; fc 12,288 x 4,096
    # = 50,331,648; norms 2 x 2 x 4096 + 4096 and hidden_norm 4096 = 24,576. No embedding / LM head.
    assert drafter["weights"] == (385_876_480 + 50_331_648 + 24_576) * 2
    # KV: 2 layers x 8 heads x (128 + 128) x 2 B = 8,192 B per token, beside the target's 147,456.
    assert drafter["kv_bytes_per_token"] == 8192
    assert drafter["kv_cache"] == 32_768 * 8192
    assert data["memory"]["kv_cache"] == 32_768 * (147_456 + 8192)
    assert fake_hub.requests("acme/Qwen3-8B-DFlash")  # read like the model
    code, out, err = vram(args, settings)
    assert code == 0, err
    assert "dflash drafter acme/Qwen3-8B-DFlash (4 speculative tokens) takes 0.81 GiB of weights" in out
    assert "8.19B parameters in bf16: 15.26 GiB + 0.81 GiB of the dflash drafter" in out
    # The KV line: the target's 144 KiB and the drafter's 8 KiB per token, 32,768 tokens.
    assert "144 KiB + the drafter's 8 KiB per token x 32,768 tokens x 1 sequence" in out


def test_a_model_that_is_no_drafter_is_one_sentence(fake_hub: FakeHub, sqlite_url: str) -> None:
    fake_hub.add_repo(
        "acme/encoder", {"config.json": json.dumps({**DRAFTER, "architectures": ["Qwen3Model"]}).encode()}
    )
    settings = Settings(database_url=sqlite_url, hf_endpoint=fake_hub.url)
    code, out, err = vram(["Qwen/Qwen3-8B", "engine=vllm", "draft=acme/encoder", "spec=2"], settings)
    assert code == 1 and out == ""  # a drafter vram does not know is its limit, not bad input
    assert err.strip().count("\n") == 0
    assert "acme/encoder (Qwen3Model) is not a draft model vram knows" in err
    code, _, err = vram(["Qwen/Qwen3-8B", "engine=vllm", "draft=acme/Qwen3-8B-DFlash"], settings)
    assert code == 2 and "needs spec=<num_speculative_tokens>" in err


# An EAGLE-3 head of Llama layers for Qwen3-8B in the published checkpoints' form (EAGLE's own
# tensor names: one "midlayer", fc over 3 tapped layers, a 32,000-token draft vocabulary with its
# d2t / t2d maps, no embed_tokens); its shape is this test's.
EAGLE3 = {
    "architectures": ["LlamaForCausalLMEagle3"],
    "model_type": "llama",
    "torch_dtype": "bfloat16",
    "hidden_size": 4096,
    "intermediate_size": 12288,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "num_hidden_layers": 1,
    "vocab_size": 151936,
    "draft_vocab_size": 32000,
    "max_position_embeddings": 40960,
    "rms_norm_eps": 1e-06,
    "rope_theta": 1000000,
    "tie_word_embeddings": False,
}


def _eagle3_tensors() -> list:
    p = "midlayer."
    return [
        (p + "self_attn.q_proj.weight", "BF16", (4096, 8192)),
        (p + "self_attn.k_proj.weight", "BF16", (1024, 8192)),
        (p + "self_attn.v_proj.weight", "BF16", (1024, 8192)),
        (p + "self_attn.o_proj.weight", "BF16", (4096, 4096)),
        (p + "mlp.gate_proj.weight", "BF16", (12288, 4096)),
        (p + "mlp.up_proj.weight", "BF16", (12288, 4096)),
        (p + "mlp.down_proj.weight", "BF16", (4096, 12288)),
        (p + "input_layernorm.weight", "BF16", (4096,)),
        (p + "post_attention_layernorm.weight", "BF16", (4096,)),
        (p + "hidden_norm.weight", "BF16", (4096,)),
        ("norm.weight", "BF16", (4096,)),
        ("fc.weight", "BF16", (4096, 12288)),
        ("lm_head.weight", "BF16", (32000, 4096)),
        ("d2t", "I64", (32000,)),
        ("t2d", "BOOL", (151936,)),
    ]


def test_an_eagle3_drafter_is_sized(fake_hub: FakeHub, sqlite_url: str) -> None:
    fake_hub.add_repo(
        "acme/Qwen3-8B-eagle3",
        {"config.json": json.dumps(EAGLE3).encode(), "model.safetensors": safetensors_file(_eagle3_tensors())},
    )
    settings = Settings(database_url=sqlite_url, hf_endpoint=fake_hub.url)
    args = ["Qwen/Qwen3-8B", "engine=vllm", "gpu=h100", "s=32k", "draft=acme/Qwen3-8B-eagle3", "spec=3"]
    code, out, err = vram([*args, "--json"], settings)
    assert code == 0, err
    drafter = json.loads(out)["vllm"]["drafter"]
    assert drafter["method"] == "eagle3"
    # bf16, one GPU: q 4096 x 8192 (embedding and hidden state side by side) + k, v 1024 x 8192 + o
    # 4096 x 4096 = 67,108,864; MLP 3 x 4096 x 12,288 = 150,994,944; lm_head 32,000 x 4096 =
    # 131,072,000; fc 4096 x 12,288 = 50,331,648; 4 norms x 4096 = 16,384: 399,523,840 parameters,
    # and d2t 32,000 x 8 B. t2d is not loaded; the embedding is Qwen3-8B's.
    assert drafter["weights"] == 399_523_840 * 2 + 256_000
    # KV: 1 layer x 8 heads x (128 + 128) x 2 B = 4,096 B per token beside the target's 147,456.
    assert drafter["kv_bytes_per_token"] == 4096
    code, out, err = vram(args, settings)
    assert code == 0, err
    assert "eagle3 drafter acme/Qwen3-8B-eagle3 (3 speculative tokens) takes 0.74 GiB of weights" in out
    assert "4 KiB of KV per token in its 1 layer, counted in both" in out
    code, out, err = vram([*args[:-1], "spec=3", "vllm=0.19"], settings)
    assert code != 0 and out == "" and err.strip().count("\n") == 0
    assert "EAGLE-3" in err


# The same head built of Qwen3 layers (Eagle3Qwen3ForCausalLM, vLLM 0.24+): a qwen3 config, and each
# layer's attention ships q_norm / k_norm of head_dim; its shape is this test's.
EAGLE3_QWEN3 = {**EAGLE3, "architectures": ["Eagle3Qwen3ForCausalLM"], "model_type": "qwen3"}


def test_an_eagle3_drafter_of_qwen3_layers_is_sized(fake_hub: FakeHub, sqlite_url: str) -> None:
    tensors = [
        *_eagle3_tensors(),
        ("midlayer.self_attn.q_norm.weight", "BF16", (128,)),
        ("midlayer.self_attn.k_norm.weight", "BF16", (128,)),
    ]
    fake_hub.add_repo(
        "acme/Qwen3-8B-eagle3-qwen3",
        {"config.json": json.dumps(EAGLE3_QWEN3).encode(), "model.safetensors": safetensors_file(tensors)},
    )
    settings = Settings(database_url=sqlite_url, hf_endpoint=fake_hub.url)
    args = ["Qwen/Qwen3-8B", "engine=vllm", "gpu=h100", "s=32k", "draft=acme/Qwen3-8B-eagle3-qwen3", "spec=3"]
    code, out, err = vram([*args, "--json"], settings)
    assert code == 0, err
    drafter = json.loads(out)["vllm"]["drafter"]
    assert drafter["method"] == "eagle3"
    # The Llama head's 399,523,840 parameters and the q / k norms, 2 x 128: 399,524,096 in bf16, and
    # d2t 32,000 x 8 B.
    assert drafter["weights"] == 399_524_096 * 2 + 256_000
    assert drafter["kv_bytes_per_token"] == 4096
    # TP 2: attention 67,108,864, MLP 150,994,944 and lm_head 131,072,000 split; fc 50,331,648 and
    # the norms 16,384 + 256 whole.
    code, out, err = vram([*args, "tp=2", "--json"], settings)
    assert code == 0, err
    split = (67_108_864 + 150_994_944 + 131_072_000) // 2
    assert json.loads(out)["vllm"]["drafter"]["weights"] == (split + 50_331_648 + 16_640) * 2 + 256_000
    code, out, err = vram(args, settings)
    assert code == 0, err
    assert "eagle3 drafter acme/Qwen3-8B-eagle3-qwen3 (3 speculative tokens) takes 0.74 GiB of weights" in out
    # vLLM 0.23 has no Eagle3Qwen3ForCausalLM: one sentence, vram's limit (exit 1).
    code, out, err = vram([*args, "vllm=0.23"], settings)
    assert code == 1 and out == "" and err.strip().count("\n") == 0
    assert "Eagle3Qwen3ForCausalLM arrives in 0.24" in err


def test_a_small_model_of_the_same_vocabulary_is_a_draft_model(fake_hub: FakeHub, sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, hf_endpoint=fake_hub.url)
    args = ["Qwen/Qwen3-8B", "engine=vllm", "gpu=h100", "s=32k", "draft=Qwen/Qwen3-0.6B", "spec=4", "--json"]
    code, out, err = vram(args, settings)
    assert code == 0, err
    drafter = json.loads(out)["vllm"]["drafter"]
    assert drafter["method"] == "draft_model"
    # Qwen3-0.6B whole, in bf16: embedding 151,936 x 1024 = 155,582,464 (tied: the LM head is it);
    # per layer q 1024 x 2048 + k, v 1024 x 1024 + o 2048 x 1024 + q/k norms 2 x 128 = 6,291,712,
    # MLP 3 x 1024 x 3072 = 9,437,184, norms 2 x 1024: 15,730,944 x 28 = 440,466,432; final norm 1024.
    assert drafter["weights"] == (155_582_464 + 440_466_432 + 1024) * 2
    # KV: 28 layers x 8 heads x (128 + 128) x 2 B = 114,688 B per token, beside the target's 147,456.
    assert drafter["kv_bytes_per_token"] == 114_688


def test_an_engine_that_takes_no_drafter_does_not_read_one(fake_hub: FakeHub, sqlite_url: str) -> None:
    # draft= is vLLM's setting: under transformers it is said to be ignored and the drafter's
    # repository is never opened (it does not even exist on this Hub).
    settings = Settings(database_url=sqlite_url, hf_endpoint=fake_hub.url)
    args = ["Qwen/Qwen3-8B", "engine=transformers", "gpu=h100", "draft=acme/missing-drafter", "spec=4", "--json"]
    code, out, err = vram(args, settings)
    assert code == 0, err
    assert not fake_hub.requests("acme/missing-drafter")
    assert json.loads(out)["vllm"] is None


def test_a_drafter_built_for_a_wider_target_is_refused(fake_hub: FakeHub, sqlite_url: str) -> None:
    # The EAGLE-3 head's fc takes 3 x 4,096 target features; Qwen3-0.6B's hidden size is 1,024.
    fake_hub.add_repo(
        "acme/Qwen3-8B-eagle3",
        {"config.json": json.dumps(EAGLE3).encode(), "model.safetensors": safetensors_file(_eagle3_tensors())},
    )
    settings = Settings(database_url=sqlite_url, hf_endpoint=fake_hub.url)
    args = ["Qwen/Qwen3-0.6B", "engine=vllm", "gpu=h100", "s=32k", "draft=acme/Qwen3-8B-eagle3", "spec=3"]
    code, out, err = vram(args, settings)
    assert code == 2 and out == "" and err.strip().count("\n") == 0
    assert "width 4,096" in err and "hidden_size is 1,024" in err
