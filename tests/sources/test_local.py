"""Local models: config.json paths and model folders with real safetensors and GGUF headers.

Checkpoint files are written with real headers and sparse zeros for the data (full real size,
no disk used). Expected numbers are worked out by hand from the fixture configs.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from common.errors import ConfigError, InputError, NotFoundError
from estimator.grammar import parse_model
from sources import HubOnlyResolver, Resolver
from sources.gguf import gguf_variant_bytes, parse_gguf
from sources.local import is_local_reference, load_local
from tests.fakehub import (
    GPT_OSS_20B_SHARDS,
    SparseFile,
    dense_decoder_tensors,
    gguf_header,
    gpt_oss_tensors,
    llama_3_2_1b_gguf,
    nvfp4_decoder_tensors,
    safetensors_file,
    shard,
)

CONFIGS = Path(__file__).parents[1] / "fixtures" / "configs"


def write(path: Path, content: bytes | SparseFile) -> None:
    with path.open("wb") as f:
        if isinstance(content, SparseFile):
            f.write(content.prefix)
            f.truncate(content.size)  # sparse: the data section reads as zeros
        else:
            f.write(content)


def config(name: str) -> dict:
    return json.loads((CONFIGS / name).read_text())


@pytest.fixture
def qwen06_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "Qwen3-0.6B"
    folder.mkdir()
    cfg = config("Qwen__Qwen3-0.6B.json")
    (folder / "config.json").write_text(json.dumps(cfg))
    # Qwen3-0.6B ties lm_head in its config but its checkpoint stores it (engine-notes).
    write(folder / "model.safetensors", safetensors_file(dense_decoder_tensors(cfg, qk_norm=True, lm_head=True)))
    return folder


# Qwen3-0.6B (config): hidden 1024, 28 layers, 16 heads x 128, 8 KV heads, MLP 3072, vocab 151936.
#   embedding = lm_head = 151936 x 1024 = 155,582,464
#   per layer: q 2048 x 1024 = 2,097,152; k = v = 1024 x 1024 = 1,048,576; o = 2,097,152;
#              MLP 3 x 3072 x 1024 = 9,437,184; norms 2 x 1024 + 2 x 128 = 2,304 -> 15,730,944
#   28 layers = 440,466,432; + embedding + lm_head + final norm 1024 = 751,632,384 stored elements
QWEN06_STORED = 751_632_384


def test_folder_with_single_safetensors(qwen06_folder: Path) -> None:
    got = load_local(str(qwen06_folder))
    assert got.source == "local" and got.revision is None
    assert got.model_id == str(qwen06_folder.resolve())
    assert got.config["hidden_size"] == 1024
    st = got.safetensors
    assert st is not None and st.tensors is not None
    assert st.parameters == {"BF16": QWEN06_STORED}
    assert st.total_bytes == 2 * QWEN06_STORED == 1_503_264_768  # the 1.5G model.safetensors
    assert len(st.tensors) == 1 + 28 * 11 + 2
    assert st.tensors["lm_head.weight"].shape == (151936, 1024)
    assert st.tensors["model.layers.27.self_attn.k_norm.weight"].nbytes == 256


def test_config_path_reads_the_folder_checkpoint_too(qwen06_folder: Path) -> None:
    got = load_local(str(qwen06_folder / "config.json"))
    assert got.model_id == str((qwen06_folder / "config.json").resolve())
    assert got.safetensors is not None and got.safetensors.parameters == {"BF16": QWEN06_STORED}


def test_sharded_folder_through_the_index(tmp_path: Path) -> None:
    cfg = config("openai__gpt-oss-20b.json")
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    files, _ = shard(gpt_oss_tensors(cfg), GPT_OSS_20B_SHARDS)
    for name, content in files.items():
        write(tmp_path / name, content)
    (tmp_path / "stray.safetensors").write_bytes(b"not listed in the index, not read")
    got = load_local(str(tmp_path))
    st = got.safetensors
    assert st is not None and st.tensors is not None
    # By hand (see test_hub): BF16 1,804,459,584 elements; U8 (MXFP4 blocks + scales) 10,152,345,600.
    assert st.parameters == {"BF16": 1_804_459_584, "U8": 10_152_345_600}
    assert st.total_bytes == 2 * 1_804_459_584 + 10_152_345_600
    assert len(st.tensors) == 459
    assert st.tensors["model.layers.23.mlp.experts.down_proj_scales"].nbytes == 32 * 2880 * 90


def test_missing_shards_leave_sizes_to_the_config(tmp_path: Path) -> None:
    cfg = config("openai__gpt-oss-20b.json")
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    files, _ = shard(gpt_oss_tensors(cfg), GPT_OSS_20B_SHARDS)
    write(tmp_path / "model.safetensors.index.json", files["model.safetensors.index.json"])
    write(tmp_path / GPT_OSS_20B_SHARDS[0], files[GPT_OSS_20B_SHARDS[0]])
    got = load_local(str(tmp_path))
    assert got.safetensors is None
    assert any("2 of 3 safetensors shards" in w for w in got.warnings)


def test_folder_with_only_a_config(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(config("Qwen__Qwen3-8B.json")))
    got = load_local(str(tmp_path))
    assert got.safetensors is None and got.warnings == ()


def test_offsets_that_disagree_with_the_shape_are_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(config("Qwen__Qwen3-0.6B.json")))
    header = json.dumps({"w": {"dtype": "BF16", "shape": [4, 4], "data_offsets": [0, 30]}}).encode()
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(32))
    with pytest.raises(ConfigError) as info:
        load_local(str(tmp_path))
    assert "has 30 bytes but its shape [4, 4] of BF16 needs 32" in str(info.value)


def test_offsets_past_the_end_are_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    header = json.dumps({"w": {"dtype": "U8", "shape": [64], "data_offsets": [0, 64]}}).encode()
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + bytes(10))
    with pytest.raises(ConfigError, match="outside the file"):
        load_local(str(tmp_path))


def test_absurd_header_length_is_refused(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(struct.pack("<Q", 10**12) + b"{}")
    with pytest.raises(ConfigError, match="header length"):
        load_local(str(tmp_path))


def test_bad_config_json(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_local(str(tmp_path))


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="does not exist"):
        load_local(str(tmp_path / "nope"))
    with pytest.raises(NotFoundError, match=r"no config\.json"):
        load_local(str(tmp_path))


def test_local_gguf_folder(tmp_path: Path) -> None:
    write(tmp_path / "Llama-3.2-1B-Instruct-Q8_0.gguf", llama_3_2_1b_gguf(7, 1_321_083_008))
    write(tmp_path / "Llama-3.2-1B-Instruct-Q4_K_M.gguf", llama_3_2_1b_gguf(15, 807_694_464))
    got = load_local(str(tmp_path))
    g = got.gguf
    assert g is not None and got.config == {}
    assert g.filename == "Llama-3.2-1B-Instruct-Q4_K_M.gguf" and g.file_bytes == 807_694_464
    assert g.file_type == 15 and g.block_count == 16 and g.vocab_size == 128256
    assert set(g.files) == {"Llama-3.2-1B-Instruct-Q8_0.gguf", "Llama-3.2-1B-Instruct-Q4_K_M.gguf"}
    # A local file is read to the end of its tensor infos (147 tensors):
    #   token_embd 2048 x 128256 = 262,668,288 (tied: no output.weight)
    #   per block: q 2048 x 2048 = 4,194,304; k = v = 2048 x 512 = 1,048,576; o = 4,194,304;
    #              gate = up = down = 2048 x 8192 = 16,777,216; two norms 2 x 2048 = 4,096
    #              = 8,388,608 + 2,097,152 + 50,331,648 + 4,096 = 60,821,504
    #   16 blocks = 973,144,064; + output_norm 2048 + rope_freqs 32
    assert g.tensor_count == 147
    assert g.tensor_parameters == 262_668_288 + 16 * 60_821_504 + 2048 + 32 == 1_235_814_432
    assert g.tied_embeddings is True


def test_gguf_with_tokenizer_first_is_read_through(tmp_path: Path) -> None:
    # Tokenizer arrays before the architecture: the parser must walk the strings (and fetch past
    # its first 1 MiB chunk: 128256 tokens of 8 + 7 bytes are ~1.9 MB).
    tokens = [f"tok{i:06d}"[:7] for i in range(128256)]
    kvs = [
        ("tokenizer.ggml.tokens", "[str]", tokens),
        ("general.architecture", "str", "qwen3"),
        ("qwen3.block_count", "u32", 36),
        ("qwen3.embedding_length", "u32", 4096),
        ("qwen3.attention.head_count", "u32", 32),
        ("qwen3.attention.head_count_kv", "u32", 8),
        ("qwen3.context_length", "u32", 40960),
    ]
    header = gguf_header(kvs, tensor_count=0)
    assert len(header) > 1 << 20
    path = tmp_path / "m.gguf"
    write(path, SparseFile(header, len(header) + 4096))
    got = load_local(str(path))
    g = got.gguf
    assert g is not None
    assert (g.architecture, g.block_count, g.head_count_kv, g.vocab_size) == ("qwen3", 36, 8, 128256)
    assert g.file_type is None


def test_not_a_gguf(tmp_path: Path) -> None:
    path = tmp_path / "x.gguf"
    path.write_bytes(b"GGML" + bytes(100))
    with pytest.raises(ConfigError, match="not a GGUF file"):
        load_local(str(path))


def test_truncated_gguf(tmp_path: Path) -> None:
    header = gguf_header([("general.architecture", "str", "llama"), ("llama.block_count", "u32", 16)], 0)
    path = tmp_path / "x.gguf"
    path.write_bytes(header[:-3])
    with pytest.raises(ConfigError, match="ends inside its GGUF header"):
        load_local(str(path))


def test_local_reference_detection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert not is_local_reference("Qwen/Qwen3-8B")
    assert is_local_reference("./Qwen3-8B") and is_local_reference("/models/x")
    assert is_local_reference("config.json") and is_local_reference("m.gguf") and is_local_reference("~/m")
    (tmp_path / "Qwen" / "Qwen3-8B").mkdir(parents=True)
    assert not is_local_reference("Qwen/Qwen3-8B")  # an empty folder is not a model
    (tmp_path / "Qwen" / "Qwen3-8B" / "config.json").write_text("{}")
    assert is_local_reference("Qwen/Qwen3-8B")


def test_resolver_routes_paths_to_local(qwen06_folder: Path) -> None:
    r = Resolver(endpoint="http://127.0.0.1:9")  # a closed port: nothing may go to a Hub
    got = r.resolve(str(qwen06_folder))
    assert got.source == "local" and got.requested_id == str(qwen06_folder)
    with pytest.raises(InputError, match="local path"):
        r.resolve(str(qwen06_folder), "main")


def test_a_folder_as_a_shell_completes_it_is_read(
    qwen06_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tab completion writes "Qwen3-0.6B/": the grammar passes it as a path, and the folder is read.
    monkeypatch.chdir(tmp_path)
    assert parse_model("Qwen3-0.6B/") == ("Qwen3-0.6B/", None)
    assert parse_model("models/Qwen3-0.6B/") == ("models/Qwen3-0.6B/", None)
    r = Resolver(endpoint="http://127.0.0.1:9")  # a closed port: nothing may go to a Hub
    got = r.resolve("Qwen3-0.6B/")
    assert got.source == "local" and got.model_id == str(qwen06_folder.resolve())
    assert got.safetensors is not None and got.safetensors.parameters == {"BF16": QWEN06_STORED}
    # A folder of that name without a model, and no folder at all: each says which.
    (tmp_path / "Org" / "Empty").mkdir(parents=True)
    with pytest.raises(InputError) as info:
        r.resolve("Org/Empty/")
    assert str(info.value) == "a folder Org/Empty/ is here, but it holds no config.json or GGUF file"
    with pytest.raises(InputError) as info:
        r.resolve("Org/Nothing/")
    assert str(info.value) == (
        '"Org/Nothing/" is not a Hub model id: drop the trailing "/" (Org/Nothing); nor is it a folder here'
    )
    # A server reads no folder: a Hub id with a slash after it is named, without a word of folders.
    with pytest.raises(InputError) as info:
        HubOnlyResolver(r).resolve("Org/Nothing/")
    assert str(info.value) == '"Org/Nothing/" is not a Hub model id: drop the trailing "/" (Org/Nothing)'


def test_split_gguf_variant_counts_all_its_parts(tmp_path: Path) -> None:
    sizes = {
        "M-Q8_0-00001-of-00002.gguf": 4_000_000,
        "M-Q8_0-00002-of-00002.gguf": 1_500_000,
        "M-Q4_K_M.gguf": 3_000_000,
        "M-Q4_0-00001-of-00003.gguf": 9,
    }
    assert gguf_variant_bytes("M-Q8_0-00001-of-00002.gguf", sizes) == 4_000_000 + 1_500_000
    assert gguf_variant_bytes("M-Q4_K_M.gguf", sizes) == 3_000_000
    header = gguf_header([("general.architecture", "str", "llama"), ("llama.block_count", "u32", 16)], 0)
    write(tmp_path / "M-Q8_0-00001-of-00002.gguf", SparseFile(header, 4_000_000))
    write(tmp_path / "M-Q8_0-00002-of-00002.gguf", SparseFile(b"GGUF", 1_500_000))
    got = load_local(str(tmp_path))
    assert got.gguf is not None
    assert got.gguf.filename == "M-Q8_0-00001-of-00002.gguf" and got.gguf.file_bytes == 5_500_000


def test_config_beside_gguf_weights_gets_both(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps(config("meta-llama__Llama-3.2-1B.json")))
    write(tmp_path / "Llama-3.2-1B-Instruct-Q8_0.gguf", llama_3_2_1b_gguf(7, 1_321_083_008))
    got = load_local(str(tmp_path))
    assert got.config["hidden_size"] == 2048
    assert got.gguf is not None and got.gguf.file_type == 7 and got.gguf.file_bytes == 1_321_083_008
    assert got.safetensors is None


def test_gguf_read_stops_at_the_vocabulary_past_its_byte_limit() -> None:
    f = llama_3_2_1b_gguf(15, 807_694_464)
    fetched: list[tuple[int, int]] = []

    def fetch(offset: int, size: int) -> bytes:
        fetched.append((offset, size))
        return f.read(offset, offset + size - 1)

    g = parse_gguf(fetch, filename="x.gguf", file_bytes=f.size, limit_bytes=1 << 20)
    assert g.block_count == 16 and g.vocab_size == 128256  # the tokens array's length, not its strings
    assert g.tensor_parameters is None and g.tied_embeddings is None
    assert sum(size for _, size in fetched) <= 1 << 20
    lean = parse_gguf(fetch, filename="x.gguf", file_bytes=f.size, full=False)
    assert lean.vocab_size == 128256 and lean.tensor_parameters is None


def test_open_model_sizes_a_gguf_only_folder_from_its_header(tmp_path: Path) -> None:
    # The source, not the front end, decides: no config.json, so the GGUF header describes the model
    # and the file's bytes are its weights (Q4_K_M: 807,694,464 bytes, as written above).
    write(tmp_path / "Llama-3.2-1B-Instruct-Q4_K_M.gguf", llama_3_2_1b_gguf(15, 807_694_464))
    got = Resolver().open_model(str(tmp_path))
    assert got.spec.params_source == "gguf"
    assert got.spec.checkpoint_bytes == 807_694_464
    assert got.spec.format_label == "GGUF Q4_K_M"
    assert got.model_id == str(tmp_path.resolve()) and got.revision is None
    assert got.warnings == got.resolved.warnings and any("only GGUF" in w for w in got.warnings)


def test_open_model_sizes_a_config_from_the_config(tmp_path: Path) -> None:
    # A config.json beside GGUF weights: the config describes the geometry (hidden 2048, 16 layers
    # for Llama-3.2-1B), as before the source made the choice.
    (tmp_path / "config.json").write_text(json.dumps(config("meta-llama__Llama-3.2-1B.json")))
    write(tmp_path / "Llama-3.2-1B-Instruct-Q8_0.gguf", llama_3_2_1b_gguf(7, 1_321_083_008))
    got = Resolver().open_model(str(tmp_path))
    assert got.spec.params_source != "gguf"
    assert got.resolved.config["num_hidden_layers"] == 16


# Llama-3.1-8B as ModelOpt (0.29 and before) saved NVFP4: config.json without quantization_config,
# hf_quant_config.json beside it. Per layer the 7 linear matrices hold 218,103,808 weights
# (q, o 4096 x 4096; k, v 1024 x 4096; gate, up 14336 x 4096; down 4096 x 14336):
#   U8 weight 109,051,904 B + F8 scales 13,631,488 B + 7 x (4 + 4) B = 122,683,448 B; 32 layers =
#   3,925,870,336 B; BF16 embedding and lm_head 2 x 128256 x 4096 x 2 = 2,101,346,304 B, norms
#   (2 x 32 + 1) x 4096 x 2 = 532,480 B -> 6,027,749,120 B.
def test_modelopt_legacy_hf_quant_config_is_read(tmp_path: Path) -> None:
    from estimator.config import load_model_spec
    from estimator.weights import weight_bytes, weight_format_name

    folder = tmp_path / "Llama-3.1-8B-NVFP4"
    folder.mkdir()
    cfg = config("meta-llama__Llama-3.1-8B.json")
    (folder / "config.json").write_text(json.dumps(cfg))
    hf_quant = {
        "producer": {"name": "modelopt", "version": "0.29.0"},
        "quantization": {
            "quant_algo": "NVFP4",
            "kv_cache_quant_algo": None,
            "group_size": 16,
            "exclude_modules": ["lm_head"],
        },
    }
    (folder / "hf_quant_config.json").write_text(json.dumps(hf_quant))
    write(folder / "model.safetensors", safetensors_file(nvfp4_decoder_tensors(cfg)))
    got = load_local(str(folder))
    assert got.config["quantization_config"]["quant_method"] == "modelopt"
    spec = load_model_spec(got.config, safetensors=got.safetensors)
    assert weight_format_name(spec) == "nvfp4 (modelopt)"
    assert spec.checkpoint_bytes == 6_027_749_120
    # The config arithmetic gives the same bytes as the headers.
    assert weight_bytes(spec.model_copy(update={"checkpoint_bytes": None})) == 6_027_749_120
