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
    args = ["Qwen/Qwen3-8B", "engine=vllm", "gpu=h100", "s=32k", "draft=acme/Qwen3-8B-DFlash", "spec=4"]
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
    assert "8.19B parameters in bf16, with the dflash drafter's 0.81 GiB" in out
    assert "144 KiB per token + the drafter's 8.0 KiB x 32,768 tokens x 1 sequence" in out


def test_a_model_that_is_no_drafter_is_one_sentence(fake_hub: FakeHub, sqlite_url: str) -> None:
    settings = Settings(database_url=sqlite_url, hf_endpoint=fake_hub.url)
    code, out, err = vram(["Qwen/Qwen3-8B", "engine=vllm", "draft=Qwen/Qwen3-0.6B", "spec=2"], settings)
    assert code == 2 and out == ""
    assert err.strip().count("\n") == 0
    assert "Qwen/Qwen3-0.6B (Qwen3ForCausalLM) is not a draft model vram knows" in err
    code, _, err = vram(["Qwen/Qwen3-8B", "engine=vllm", "draft=acme/Qwen3-8B-DFlash"], settings)
    assert code == 2 and "needs spec=<num_speculative_tokens>" in err
