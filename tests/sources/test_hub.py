"""The Hub resolver against the fake Hub, through the real huggingface_hub client (no mocks).

Expected numbers are worked out by hand from the configs in tests/fixtures/configs.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from huggingface_hub import constants as hf_constants

from common.errors import (
    ConfigError,
    GatedError,
    HubUnavailableError,
    InputError,
    NotFoundError,
    ResolveError,
    VramError,
)
from sources import CachedEntry, MemoryHubCache, Resolver, cache_key
from sources.hub import rank_suggestions
from tests.fakehub import GRANTED_TOKEN, OTHER_TOKEN, FakeHub

# Real servers and peers on 127.0.0.1 (seconds per test): outside the fast subset.
pytestmark = pytest.mark.slow

CONFIGS = Path(__file__).parents[1] / "fixtures" / "configs"
INFO = "/api/models/"


class Clock:
    """A settable wall clock for TTL tests."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def resolver(hub: FakeHub, **kwargs) -> Resolver:
    return Resolver(endpoint=hub.url, **kwargs)


# -- Qwen3-8B: dense BF16, 5 shards ------------------------------------------------------------

# Qwen3-8B (config): hidden 4096, 36 layers, 32 heads x head_dim 128, 8 KV heads, MLP 12288,
# vocabulary 151936, untied lm_head, q/k norms of head_dim.
#   embedding = lm_head = 151936 x 4096 = 622,329,856
#   per layer: q 4096x4096 = 16,777,216; k = v = 1024x4096 = 4,194,304; o = 16,777,216;
#              MLP 3 x 12288 x 4096 = 150,994,944; norms 2 x 4096 + q/k norms 2 x 128 = 8,448
#              = 33,554,432 + 8,388,608 + 150,994,944 + 8,448 = 192,946,432
#   36 layers = 6,946,071,552; + 2 x 622,329,856 + final norm 4096 = 8,190,735,360
QWEN3_8B_PARAMS = 8_190_735_360


def test_qwen3_8b_resolves_with_one_model_info_and_one_config_request(fake_hub: FakeHub) -> None:
    got = resolver(fake_hub).resolve("Qwen/Qwen3-8B")
    assert got.model_id == "Qwen/Qwen3-8B"
    assert got.requested_id == "Qwen/Qwen3-8B"
    assert got.revision == fake_hub.repos["qwen/qwen3-8b"].refs["main"]
    assert len(got.revision) == 40
    assert got.config == json.loads((CONFIGS / "Qwen__Qwen3-8B.json").read_text())
    assert got.source == "hub"
    assert got.warnings == ()
    assert got.safetensors is not None
    assert got.safetensors.parameters == {"BF16": QWEN3_8B_PARAMS}
    assert got.safetensors.tensors is None  # plain BF16: the Hub's counts are exact, no header reads
    paths = [r.path for r in fake_hub.log]
    assert len(paths) == 2
    assert paths[0].startswith("/api/models/Qwen/Qwen3-8B?expand=sha")
    assert paths[1] == f"/Qwen/Qwen3-8B/resolve/{got.revision}/config.json"


def test_second_resolve_makes_no_hub_request(fake_hub: FakeHub) -> None:
    r = resolver(fake_hub)
    first = r.resolve("Qwen/Qwen3-8B")
    n = len(fake_hub.log)
    again = r.resolve("Qwen/Qwen3-8B")
    other_casing = r.resolve("qwen/qwen3-8B")
    by_sha = r.resolve("Qwen/Qwen3-8B", first.revision)
    assert len(fake_hub.log) == n
    for got in (again, other_casing, by_sha):
        assert got.source == "cache"
        assert got.model_id == "Qwen/Qwen3-8B"
        assert got.revision == first.revision
        assert got.config == first.config


def test_branch_is_rechecked_after_ttl_with_one_small_request(fake_hub: FakeHub) -> None:
    clock = Clock()
    r = resolver(fake_hub, branch_ttl_s=600, clock=clock)
    first = r.resolve("Qwen/Qwen3-8B")
    n = len(fake_hub.log)
    clock.now += 599
    r.resolve("Qwen/Qwen3-8B")
    assert len(fake_hub.log) == n  # inside the TTL
    clock.now += 2
    same = r.resolve("Qwen/Qwen3-8B")
    new = fake_hub.log[n:]
    assert [x.path for x in new] == ["/api/models/Qwen/Qwen3-8B?expand=sha"]
    assert same.revision == first.revision and same.source == "cache"
    # The TTL starts again from the re-check.
    clock.now += 300
    r.resolve("Qwen/Qwen3-8B")
    assert len(fake_hub.log) == n + 1


def test_moved_branch_is_fetched_again_after_ttl(fake_hub: FakeHub) -> None:
    clock = Clock()
    r = resolver(fake_hub, branch_ttl_s=60, clock=clock)
    first = r.resolve("Qwen/Qwen3-8B")
    changed = dict(first.config, max_position_embeddings=131072)
    new_sha = fake_hub.commit("Qwen/Qwen3-8B", {"config.json": json.dumps(changed).encode()})
    clock.now += 61
    n = len(fake_hub.log)
    got = r.resolve("Qwen/Qwen3-8B")
    assert got.revision == new_sha != first.revision
    assert got.config["max_position_embeddings"] == 131072
    assert got.source == "hub"
    # sha check, then model_info and config.json at the new commit
    assert len(fake_hub.log) == n + 3
    assert fake_hub.log[-1].path == f"/Qwen/Qwen3-8B/resolve/{new_sha}/config.json"
    # The old commit, asked by sha, is still served from the cache and never re-checked.
    clock.now += 10**6
    old = r.resolve("Qwen/Qwen3-8B", first.revision)
    assert old.config == first.config and len(fake_hub.log) == n + 3


def test_persistent_cache_serves_another_process(fake_hub: FakeHub) -> None:
    store = MemoryHubCache()
    first = resolver(fake_hub, cache=store).resolve("openai/gpt-oss-20b")
    n = len(fake_hub.log)
    # A new Resolver (a new process: empty in-process cache) with the same persistent cache.
    got = resolver(fake_hub, cache=store).resolve("openai/gpt-oss-20b")
    assert len(fake_hub.log) == n
    assert got.source == "cache"
    assert got.safetensors == first.safetensors  # tensors survived the JSON round trip
    assert cache_key("openai/gpt-oss-20b", None) in store.stored_keys()
    assert cache_key("openai/gpt-oss-20b", first.revision) in store.stored_keys()


def test_cached_entry_round_trips_through_json(fake_hub: FakeHub) -> None:
    model = resolver(fake_hub).resolve("openai/gpt-oss-20b")
    entry = CachedEntry(model=model, fetched_at=123.5)
    text = entry.to_json()
    assert CachedEntry.from_json(text) == entry
    assert json.loads(text)["model"]["revision"] == model.revision


# -- gpt-oss-20b: MXFP4 experts, headers read ----------------------------------------------------


# gpt-oss-20b (config): hidden 2880, 24 layers, 64 heads x 64, 8 KV heads, 32 experts of width
# 2880, vocabulary 201088, untied lm_head, attention biases and sinks.
# BF16 per layer: norms 2 x 2880 = 5,760; q 4096 x 2880 + bias 4096 = 11,800,576;
#   k and v (512 x 2880 + bias 512) x 2 = 2,950,144; o 2880 x 4096 + bias 2880 = 11,799,360;
#   sinks 64; router 32 x 2880 + bias 32 = 92,192; expert biases 32 x 5760 + 32 x 2880 = 276,480
#   -> 26,924,576 per layer
# BF16 total: 24 x 26,924,576 = 646,189,824 + embedding and lm_head 2 x 201088 x 2880 = 1,158,266,880
#   + final norm 2,880 = 1,804,459,584
# U8 per layer (MXFP4: 32 fp4 values = 16 bytes per block, one scale byte per block, 90 blocks
#   along 2880): gate_up 32 x 5760 x 90 x 16 = 265,420,800 + scales 32 x 5760 x 90 = 16,588,800;
#   down 32 x 2880 x 90 x 16 = 132,710,400 + scales 8,294,400 -> 423,014,400
# U8 total: 24 x 423,014,400 = 10,152,345,600
def test_gpt_oss_headers_give_exact_bytes_per_tensor(fake_hub: FakeHub) -> None:
    got = resolver(fake_hub).resolve("openai/gpt-oss-20b")
    st = got.safetensors
    assert st is not None and st.tensors is not None
    bf16_per_layer = (
        2 * 2880
        + (4096 * 2880 + 4096)
        + 2 * (512 * 2880 + 512)
        + (2880 * 4096 + 2880)
        + 64
        + (32 * 2880 + 32)
        + 32 * 5760
        + 32 * 2880
    )
    assert bf16_per_layer == 26_924_576
    bf16 = 24 * bf16_per_layer + 2 * 201088 * 2880 + 2880
    assert bf16 == 1_804_459_584
    u8 = 24 * (32 * 5760 * 90 * 16 + 32 * 5760 * 90 + 32 * 2880 * 90 * 16 + 32 * 2880 * 90)
    assert u8 == 10_152_345_600
    assert st.parameters == {"BF16": bf16, "U8": u8}
    # The Hub's "parameter" total counts packed bytes as elements: 11,956,805,184, as reported for
    # the real checkpoint (see configs/SOURCES.md); its bytes are 12.82 GiB there too.
    assert sum(st.parameters.values()) == 11_956_805_184
    assert st.total_bytes == 2 * bf16 + u8 == 13_761_264_768
    assert round(st.total_bytes / 2**30, 2) == 12.82
    assert len(st.tensors) == 24 * 19 + 3 == 459
    blocks = st.tensors["model.layers.0.mlp.experts.gate_up_proj_blocks"]
    assert blocks.dtype == "U8" and blocks.shape == (32, 5760, 90, 16) and blocks.nbytes == 265_420_800
    assert st.tensors["lm_head.weight"].nbytes == 201088 * 2880 * 2
    # One 100 kB range read per shard: a 302 from the Hub, then the read at the CDN.
    assert len([r for r in fake_hub.requests("-of-00002.safetensors") if "/resolve/" in r.path]) == 3
    assert len(fake_hub.requests("/cdn/")) == 3
    assert len(fake_hub.requests("model.safetensors.index.json")) == 1


# Qwen3-8B-AWQ (AutoAWQ GEMM, 4 bits, group 128): each linear layer of Qwen3-8B (see above:
# 192,946,432 - 8,448 norm elements = 192,937,984 linear weights per layer) becomes
#   qweight I32: weights / 8 = 24,117,248 per layer (eight 4-bit values per int32)
#   qzeros  I32: weights / 128 / 8 = 188,416 per layer
#   scales  F16: weights / 128 = 1,507,328 per layer
# I32: 36 x (24,117,248 + 188,416) = 875,003,904 elements
# F16: 36 x (1,507,328 + 8,448 norms) = 54,567,936 + embedding and lm_head 2 x 622,329,856
#      + final norm 4,096 = 1,299,231,744 elements
# bytes: 4 x 875,003,904 + 2 x 1,299,231,744 = 6,098,479,104
def test_awq_int4_headers_give_packed_tensors(fake_hub: FakeHub) -> None:
    got = resolver(fake_hub).resolve("Qwen/Qwen3-8B-AWQ")
    st = got.safetensors
    assert st is not None and st.tensors is not None
    assert got.config["quantization_config"]["quant_method"] == "awq"
    assert st.parameters == {"I32": 875_003_904, "F16": 1_299_231_744}
    assert st.total_bytes == 6_098_479_104
    assert len(st.tensors) == 36 * (7 * 3 + 4) + 3 == 903
    q = st.tensors["model.layers.0.self_attn.q_proj.qweight"]
    assert q.dtype == "I32" and q.shape == (4096, 512) and q.nbytes == 4096 * 512 * 4
    packed = sum(t.nbytes for n, t in st.tensors.items() if n.endswith(".qweight"))
    assert packed * 2 == 36 * 192_937_984  # 4 bits (half a byte) per weight


def test_nested_config_is_kept_as_is(fake_hub: FakeHub) -> None:
    got = resolver(fake_hub).resolve("mistralai/Mistral-Small-3.1-24B-Instruct-2503")
    assert got.config["text_config"]["hidden_size"] == 5120
    assert got.config["vision_config"]["hidden_size"] == 1024
    assert got.safetensors is None  # this fixture repo holds no weights


# -- ids, redirects, revisions -------------------------------------------------------------------


def test_hub_casing_is_followed_and_shown(fake_hub: FakeHub) -> None:
    got = resolver(fake_hub).resolve("qwen/QWEN3-8b")
    assert got.model_id == "Qwen/Qwen3-8B"
    assert got.requested_id == "qwen/QWEN3-8b"
    assert got.warnings == ()
    # 307 to the Hub's casing, then the answer
    assert [r.path.split("?")[0] for r in fake_hub.log[:2]] == [INFO + "qwen/QWEN3-8b", INFO + "Qwen/Qwen3-8B"]


def test_renamed_repo_is_followed_and_said(fake_hub: FakeHub) -> None:
    got = resolver(fake_hub, token=GRANTED_TOKEN).resolve("meta-llama/Meta-Llama-3.1-8B")
    assert got.model_id == "meta-llama/Llama-3.1-8B"
    assert got.config["num_hidden_layers"] == 32
    assert any("meta-llama/Llama-3.1-8B" in w and "Meta-Llama-3.1-8B" in w for w in got.warnings)


def test_cached_answers_carry_the_askers_id_and_rename_note(fake_hub: FakeHub) -> None:
    r = resolver(fake_hub, token=GRANTED_TOKEN)
    old = r.resolve("meta-llama/Meta-Llama-3.1-8B")
    n = len(fake_hub.log)
    new = r.resolve("meta-llama/Llama-3.1-8B")  # cached under the canonical id by the first ask
    assert len(fake_hub.log) == n
    assert new.requested_id == "meta-llama/Llama-3.1-8B" and new.warnings == ()
    again = r.resolve("meta-llama/meta-llama-3.1-8b")
    assert again.requested_id == "meta-llama/meta-llama-3.1-8b"
    assert len(old.warnings) == 1 and old.warnings[0].startswith("meta-llama/Meta-Llama-3.1-8B now lives at")
    assert again.warnings == (
        "meta-llama/meta-llama-3.1-8b now lives at meta-llama/Llama-3.1-8B (the Hub redirected); use the new id",
    )


def test_tag_and_commit_revisions(fake_hub: FakeHub) -> None:
    old = fake_hub.repos["qwen/qwen3-8b"].refs["main"]
    fake_hub.tag("Qwen/Qwen3-8B", "v1.0", old)
    fake_hub.commit("Qwen/Qwen3-8B", {"README.md": b"new card"})
    r = resolver(fake_hub)
    assert r.resolve("Qwen/Qwen3-8B", "v1.0").revision == old
    assert r.resolve("Qwen/Qwen3-8B").revision != old
    assert r.resolve("Qwen/Qwen3-8B", old.upper()).revision == old  # a sha in capitals is the same sha
    pr = fake_hub.commit("Qwen/Qwen3-8B", {"README.md": b"a PR"}, branch="main")
    fake_hub.tag("Qwen/Qwen3-8B", "refs/pr/1", pr)
    assert r.resolve("Qwen/Qwen3-8B", "refs/pr/1").revision == pr


# -- GGUF-only repo ------------------------------------------------------------------------------


def test_gguf_only_repo_is_sized_from_its_header(fake_hub: FakeHub) -> None:
    got = resolver(fake_hub).resolve("bartowski/Llama-3.2-1B-Instruct-GGUF")
    assert got.config == {} and got.safetensors is None
    g = got.gguf
    assert g is not None
    assert g.filename == "Llama-3.2-1B-Instruct-Q4_K_M.gguf"
    assert g.files == {
        "Llama-3.2-1B-Instruct-Q4_K_M.gguf": 807_694_464,
        "Llama-3.2-1B-Instruct-Q8_0.gguf": 1_321_083_008,
    }
    assert g.file_bytes == 807_694_464
    assert (g.architecture, g.block_count, g.embedding_length, g.feed_forward_length) == ("llama", 16, 2048, 8192)
    assert (g.head_count, g.head_count_kv, g.key_length, g.context_length) == (32, 8, 64, 131072)
    assert g.vocab_size == 128256  # the length of tokenizer.ggml.tokens
    assert g.file_type == 15 and g.version == 3 and g.tensor_count == 147
    assert g.parameters == 1_235_814_432
    # The header (~2.3 MB with the vocabulary) is read through its tensor infos (see test_local for
    # the arithmetic): 1,235,814,432 elements, no output.weight (tied), as the Hub's own total says.
    assert g.tensor_parameters == 1_235_814_432 and g.tied_embeddings is True
    assert any("only GGUF" in w for w in got.warnings)
    # model_info, paths-info for the sizes, two range reads (1 MiB, then 2 MiB), each a 302 from the
    # Hub and the read at the CDN.
    assert len(fake_hub.log) == 2 + 2 * 2
    assert len(fake_hub.requests("/resolve/")) == 2 and len(fake_hub.requests("/cdn/")) == 2


def test_config_beside_gguf_weights_gets_both(fake_hub: FakeHub) -> None:
    gguf_repo = fake_hub.repos["bartowski/llama-3.2-1b-instruct-gguf"]
    files = dict(gguf_repo.commits[gguf_repo.refs["main"]])
    files["config.json"] = (CONFIGS / "meta-llama__Llama-3.2-1B.json").read_bytes()
    fake_hub.add_repo("acme/llama-1b-gguf-with-config", files)
    got = resolver(fake_hub).resolve("acme/llama-1b-gguf-with-config")
    assert got.config["num_hidden_layers"] == 16
    assert got.gguf is not None and got.gguf.filename.endswith("Q4_K_M.gguf")
    assert any("only as GGUF" in w for w in got.warnings)


# -- failures, each one sentence -----------------------------------------------------------------


def test_unknown_repo_suggests_close_ids(fake_hub: FakeHub) -> None:
    with pytest.raises(NotFoundError) as info:
        resolver(fake_hub).resolve("Qwen/Qwen3-8G")
    message = str(info.value)
    assert message.startswith("Qwen/Qwen3-8G is not a model on the Hugging Face Hub")
    assert "did you mean Qwen/Qwen3-8B" in message
    assert "HF_TOKEN" in message and "\n" not in message
    assert info.value.exit_code == 1


def test_unknown_repo_without_close_ids_says_so_plainly(fake_hub: FakeHub) -> None:
    with pytest.raises(NotFoundError) as info:
        resolver(fake_hub).resolve("nobody/zzzz-nothing")
    assert "did you mean" not in str(info.value)


@pytest.mark.parametrize(
    ("repo", "error", "said"),
    [
        # Not on the Hub: its "not found" sentence, whatever it suggests, then the folder.
        ("nobody/zzzz-nothing", NotFoundError, None),
        (
            "meta-llama/Llama-3.1-8B",
            GatedError,
            "meta-llama/Llama-3.1-8B is gated: accept its licence on the Hub and set HF_TOKEN where vram runs",
        ),
    ],
)
def test_a_folder_of_that_name_without_a_model_is_named_in_the_hubs_answer(
    fake_hub: FakeHub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo: str, error: type, said: str | None
) -> None:
    # The id is a folder here, but it holds no config.json: it is read as a Hub id, and the Hub's
    # answer says the folder is there and why it was not read.
    (tmp_path / repo).mkdir(parents=True)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(error) as info:
        resolver(fake_hub).resolve(repo)
    hint = f"a folder {repo} is here, but it holds no config.json or GGUF file"
    assert str(info.value).endswith(f"({hint})")
    assert info.value.hint == hint
    if said is not None:
        assert str(info.value) == f"{said} ({hint})"


def test_rank_suggestions_orders_by_similarity() -> None:
    ranked = rank_suggestions(
        "meta-llama/Llama-3.1-8B-Instuct",
        [
            "meta-llama/Llama-3.1-8B-Instruct",
            "meta-llama/Llama-3.1-8B",
            "google/gemma-2-9b-it",
            "meta-llama/Llama-3.1-70B-Instruct",
        ],
    )
    assert ranked[0] == "meta-llama/Llama-3.1-8B-Instruct"
    assert "google/gemma-2-9b-it" not in ranked


def test_gated_without_token(fake_hub: FakeHub) -> None:
    with pytest.raises(GatedError) as info:
        resolver(fake_hub).resolve("meta-llama/Llama-3.1-8B")
    assert (
        str(info.value)
        == "meta-llama/Llama-3.1-8B is gated: accept its licence on the Hub and set HF_TOKEN where vram runs"
    )


def test_gated_with_a_token_not_granted(fake_hub: FakeHub) -> None:
    with pytest.raises(GatedError) as info:
        resolver(fake_hub, token=OTHER_TOKEN).resolve("meta-llama/Llama-3.1-8B")
    assert "no access yet" in str(info.value)
    assert OTHER_TOKEN not in str(info.value)


def test_gated_with_granted_token_from_hf_token(fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_TOKEN", GRANTED_TOKEN)
    got = resolver(fake_hub).resolve("meta-llama/Llama-3.1-8B")
    assert got.config["model_type"] == "llama"
    assert all(r.authorized for r in fake_hub.log)


def test_token_goes_to_the_hub_but_not_to_the_cdn(fake_hub: FakeHub) -> None:
    got = resolver(fake_hub, token=GRANTED_TOKEN).resolve("openai/gpt-oss-20b")
    assert got.safetensors is not None and got.safetensors.tensors is not None
    cdn = fake_hub.requests("/cdn/")
    hub = [r for r in fake_hub.log if not r.path.startswith("/cdn/")]
    assert len(cdn) == 3 and not any(r.authorized for r in cdn)
    assert hub and all(r.authorized for r in hub)


def test_private_repo_needs_a_token(fake_hub: FakeHub) -> None:
    with pytest.raises(NotFoundError) as info:
        resolver(fake_hub).resolve("acme/private-qwen")
    assert "private" in str(info.value) and "HF_TOKEN" in str(info.value)
    got = resolver(fake_hub, token=GRANTED_TOKEN).resolve("acme/private-qwen")
    assert got.config["hidden_size"] == 1024


def test_invalid_token(fake_hub: FakeHub) -> None:
    with pytest.raises(ResolveError) as info:
        resolver(fake_hub, token="hf_not_a_real_token").resolve("Qwen/Qwen3-8B")
    assert "rejected HF_TOKEN" in str(info.value)
    assert "hf_not_a_real_token" not in str(info.value)


def test_bad_revision(fake_hub: FakeHub) -> None:
    with pytest.raises(NotFoundError) as info:
        resolver(fake_hub).resolve("Qwen/Qwen3-8B", "no-such-branch")
    assert str(info.value).startswith('Qwen/Qwen3-8B has no revision "no-such-branch"')


def test_repo_without_config_or_gguf(fake_hub: FakeHub) -> None:
    with pytest.raises(ConfigError) as info:
        resolver(fake_hub).resolve("acme/notes-only")
    assert "no config.json and no GGUF file" in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 503])
def test_hub_server_error(fake_hub: FakeHub, status: int) -> None:
    fake_hub.fail_status = status
    with pytest.raises(HubUnavailableError) as info:
        resolver(fake_hub).resolve("Qwen/Qwen3-8B")
    assert f"answered {status}" in str(info.value) and "try again" in str(info.value)
    assert len(fake_hub.log) == 1  # no retry storm


def test_hub_timeout_is_capped(fake_hub: FakeHub) -> None:
    fake_hub.delay_s = 30
    start = time.monotonic()
    with pytest.raises(HubUnavailableError) as info:
        resolver(fake_hub, total_timeout_s=1).resolve("Qwen/Qwen3-8B")
    waited = time.monotonic() - start
    assert "did not answer within 1 s" in str(info.value)
    # Not a speed test: only that we gave up long before the Hub would have answered.
    assert waited < 30


@pytest.mark.slow
def test_a_dripping_hub_is_cut_off_at_the_cap(fake_hub: FakeHub) -> None:
    # One byte every 0.2 s never trips a read timeout; a 1 kB answer would take minutes.
    fake_hub.drip_s = 0.2
    start = time.monotonic()
    with pytest.raises(HubUnavailableError) as info:
        resolver(fake_hub, total_timeout_s=1).resolve("Qwen/Qwen3-8B")
    assert "did not answer within 1 s" in str(info.value)
    assert time.monotonic() - start < 60  # not a speed test: only that we did not wait it out


def test_hub_unreachable() -> None:
    with pytest.raises(HubUnavailableError) as info:
        Resolver(endpoint="http://127.0.0.1:9").resolve("Qwen/Qwen3-8B")
    assert "cannot reach the Hugging Face Hub" in str(info.value)


def test_offline_mode_with_nothing_cached(fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path))  # an empty Hugging Face cache
    with pytest.raises(HubUnavailableError) as info:
        resolver(fake_hub, offline=True).resolve("Qwen/Qwen3-8B")
    assert "offline mode is on" in str(info.value) and "Hugging Face cache" in str(info.value)
    assert fake_hub.log == []


def _hf_cache(root: Path, repo: str, sha: str, files: dict[str, bytes]) -> None:
    """A Hugging Face cache as huggingface_hub lays it out: refs/main -> snapshots/<sha>/<file>."""
    folder = root / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(sha)
    (folder / "snapshots" / sha).mkdir(parents=True)
    for name, data in files.items():
        (folder / "snapshots" / sha / name).write_bytes(data)


def test_offline_mode_reads_the_hugging_face_cache(
    fake_hub: FakeHub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Never looked up by vram, but downloaded by transformers before: HF_HUB_OFFLINE=1 answers from
    # that copy, as from_pretrained would, at the commit refs/main points to.
    sha = "a" * 40
    config = (CONFIGS / "microsoft__phi-4.json").read_bytes()
    _hf_cache(tmp_path, "microsoft/phi-4", sha, {"config.json": config})
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path))
    got = resolver(fake_hub, offline=True).resolve("microsoft/phi-4")
    assert (got.model_id, got.revision, got.source) == ("microsoft/phi-4", sha, "cache")
    assert got.config == json.loads(config)
    assert any("Hugging Face cache" in w and sha[:7] in w for w in got.warnings)
    assert fake_hub.log == []
    # A revision the cache does not hold is not answered from another one.
    with pytest.raises(HubUnavailableError):
        resolver(fake_hub, offline=True).resolve("microsoft/phi-4", "b" * 40)


def test_offline_mode_uses_a_stale_cached_copy(fake_hub: FakeHub) -> None:
    clock, store = Clock(), MemoryHubCache()
    first = resolver(fake_hub, cache=store, clock=clock).resolve("Qwen/Qwen3-8B")
    n = len(fake_hub.log)
    clock.now += 3600
    got = resolver(fake_hub, cache=store, clock=clock, offline=True).resolve("Qwen/Qwen3-8B")
    assert got.revision == first.revision and got.source == "cache"
    assert any("offline mode is on" in w and "60 min ago" in w for w in got.warnings)
    assert len(fake_hub.log) == n


def test_hub_down_after_ttl_serves_the_cached_copy(fake_hub: FakeHub) -> None:
    clock = Clock()
    r = resolver(fake_hub, clock=clock, branch_ttl_s=60)
    first = r.resolve("Qwen/Qwen3-8B")
    fake_hub.fail_status = 503
    clock.now += 120
    got = r.resolve("Qwen/Qwen3-8B")
    assert got.revision == first.revision
    assert any("the Hub is unavailable" in w for w in got.warnings)


def test_malformed_ids_are_input_errors() -> None:
    for bad in ("foo bar", "a/b/c", "-x/y", "org/../etc"):
        with pytest.raises(InputError) as info:
            Resolver(endpoint="http://127.0.0.1:9").resolve(bad)
        assert info.value.exit_code == 2


def test_token_never_appears_in_errors_or_logs(
    fake_hub: FakeHub, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = OTHER_TOKEN
    r = resolver(fake_hub, token=secret)
    messages = [repr(r)]
    for model, rev in [
        ("meta-llama/Llama-3.1-8B", None),
        ("Qwen/Qwen3-8G", None),
        ("Qwen/Qwen3-8B", "nope"),
        ("acme/private-qwen", None),
    ]:
        with pytest.raises(VramError) as info:
            r.resolve(model, rev)
        messages.append(str(info.value))
    fake_hub.fail_status = 503
    with pytest.raises(VramError) as info:
        r.resolve("openai/gpt-oss-20b")
    messages.append(str(info.value))
    out = capsys.readouterr()
    everything = "\n".join([*messages, caplog.text, out.out, out.err])
    assert secret not in everything
    assert all(x.authorized for x in fake_hub.log)  # it was sent, to the Hub only


def test_concurrent_asks_for_one_model_make_one_round_of_requests(fake_hub: FakeHub) -> None:
    fake_hub.delay_s = 0.2  # long enough for every thread to be waiting at once
    r = resolver(fake_hub)
    with ThreadPoolExecutor(max_workers=6) as pool:
        got = list(pool.map(lambda _: r.resolve("Qwen/Qwen3-8B"), range(6)))
    assert len({g.revision for g in got}) == 1
    assert len(fake_hub.log) == 2  # model_info + config.json, once
    # Those waiting on the lookup share its answer; any later ask finds it in the cache.
    assert {g.source for g in got} <= {"hub", "cache"} and "hub" in {g.source for g in got}
    assert all(g.requested_id == "Qwen/Qwen3-8B" for g in got)
    assert r._flights == {}  # nothing kept per model once the asks are answered


def test_in_process_cache_is_bounded(fake_hub: FakeHub) -> None:
    # memory_entries=2: a resolve of main stores two keys (the branch and the sha)
    r = resolver(fake_hub, memory_entries=2)
    r.resolve("Qwen/Qwen3-8B")
    r.resolve("Qwen/Qwen3-0.6B")  # evicts Qwen3-8B's keys
    n = len(fake_hub.log)
    assert r.resolve("Qwen/Qwen3-0.6B").source == "cache"
    assert r.resolve("Qwen/Qwen3-8B").source == "hub"
    assert len(fake_hub.log) == n + 2


class BrokenCache:
    """A persistent cache whose database is down."""

    def get(self, key: str) -> CachedEntry | None:
        raise ConnectionError("database is down")

    def put(self, key: str, entry: CachedEntry) -> None:
        raise ConnectionError("database is down")


def test_a_broken_persistent_cache_does_not_stop_the_answer(fake_hub: FakeHub) -> None:
    got = resolver(fake_hub, cache=BrokenCache()).resolve("Qwen/Qwen3-8B")
    assert got.source == "hub" and got.config["hidden_size"] == 4096
    assert any("could not be read (ConnectionError)" in w for w in got.warnings)
    assert any("could not be written (ConnectionError)" in w for w in got.warnings)


def test_malformed_files_on_the_hub_are_plain_errors(fake_hub: FakeHub) -> None:
    fake_hub.add_repo("acme/bad-config", {"config.json": b"{oops"})
    with pytest.raises(ConfigError, match=r"config\.json of acme/bad-config is not valid JSON"):
        resolver(fake_hub).resolve("acme/bad-config")
    awq = (CONFIGS / "Qwen__Qwen3-8B-AWQ.json").read_bytes()
    fake_hub.add_repo("acme/bad-index", {"config.json": awq, "model.safetensors.index.json": b'{"weight_map": []}'})
    with pytest.raises(ConfigError, match="lists no shards"):
        resolver(fake_hub).resolve("acme/bad-index")
    fake_hub.add_repo("acme/bad-header", {"config.json": awq, "model.safetensors": b"\xff" * 8 + b"{}"})
    with pytest.raises(ResolveError, match="could not be read"):
        resolver(fake_hub).resolve("acme/bad-header")


@pytest.mark.slow
def test_waiters_on_a_hung_hub_share_one_timeout(fake_hub: FakeHub) -> None:
    # Four users ask for one model while the Hub hangs. With one lookup shared, every one of them
    # has its answer when that lookup times out (about TIMEOUT_S); waiters queued one behind the
    # other would get theirs after 1, 2, 3 and 4 timeouts. The bound is loose on purpose.
    timeout_s = 3.0
    fake_hub.delay_s = 60  # longer than anything here: the Hub never answers in time
    r = resolver(fake_hub, total_timeout_s=timeout_s)
    start = threading.Barrier(4)

    def ask(_: int) -> tuple[str, float]:
        start.wait()
        began = time.monotonic()
        try:
            r.resolve("Qwen/Qwen3-8B")
        except HubUnavailableError as err:
            return str(err), time.monotonic() - began
        return "answered", time.monotonic() - began

    with ThreadPoolExecutor(max_workers=4) as pool:
        got = list(pool.map(ask, range(4)))
    fake_hub.delay_s = 0
    assert [sentence for sentence, _ in got] == [
        f"the Hugging Face Hub did not answer within {timeout_s:g} s: "
        "try again in a minute (or set HF_HUB_OFFLINE=1 where vram runs, to use models "
        "looked up before)"
    ] * 4
    assert max(elapsed for _, elapsed in got) < 2 * timeout_s
    assert len(fake_hub.requests(INFO)) == 1  # one lookup for the four


SHUTDOWN_SCRIPT = """
import sys, threading
from sources import Resolver

resolver = Resolver(endpoint=sys.argv[1], total_timeout_s=30, preload_client=True)  # as `vram serve` does

def work():
    try:
        got = resolver.resolve("openai/gpt-oss-20b")
        print("answered", got.safetensors.total_bytes, flush=True)
    except BaseException as err:
        print("failed", type(err).__name__, err, flush=True)

threading.Thread(target=work).start()
# The main thread ends now: the interpreter begins to shut down while the lookup is in flight.
"""


@pytest.mark.slow
def test_a_lookup_in_flight_at_shutdown_still_reads_its_headers(fake_hub: FakeHub, tmp_path: Path) -> None:
    # gpt-oss-20b needs its safetensors headers read (MXFP4 blocks), several shards at once; a
    # thread pool refuses that work once the interpreter is shutting down (a server on SIGTERM).
    fake_hub.delay_s = 0.5  # the main thread is gone before the first answer comes
    done = subprocess.run(
        [sys.executable, "-c", SHUTDOWN_SCRIPT, fake_hub.url],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("answered "), done.stdout + done.stderr
    assert "cannot schedule new futures" not in done.stdout + done.stderr


def test_modelopt_hf_quant_config_becomes_the_quantization_config(fake_hub_empty: FakeHub) -> None:
    # ModelOpt 0.29 and before: config.json has no quantization_config, hf_quant_config.json holds
    # it; vLLM reads that file (transformers_utils/config.py), and so does the resolver.
    from tests.fakehub import config_bytes, nvfp4_decoder_tensors, safetensors_file

    cfg = json.loads(config_bytes("meta-llama__Llama-3.1-8B.json"))
    hf_quant = {
        "producer": {"name": "modelopt"},
        "quantization": {"quant_algo": "NVFP4", "exclude_modules": ["lm_head"]},
    }
    fake_hub_empty.add_repo(
        "acme/modelopt-legacy",
        {
            "config.json": json.dumps(cfg).encode(),
            "hf_quant_config.json": json.dumps(hf_quant).encode(),
            "model.safetensors": safetensors_file(nvfp4_decoder_tensors(cfg)),
        },
    )
    got = resolver(fake_hub_empty).resolve("acme/modelopt-legacy")
    assert got.config["quantization_config"] == {"quant_method": "modelopt", **hf_quant}
    # The same 6,027,749,120 B as tests/sources/test_local.py works out by hand.
    assert got.safetensors is not None and got.safetensors.total_bytes == 6_027_749_120
