"""Hostile input, one finding each: every one ends in a sentence from vram's error tree, never a traceback.

The values are the ones a fuzzing of the Slack entry point and of mutated configs turned up; each test
states by hand what the answer must be (the exit status, the field the sentence names).
"""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path
from typing import Any

import pytest

from bot.cli import run
from bot.commands import ShowCmd, parse
from bot.names import model_name
from bot.settings import Settings
from common.errors import ConfigError, InputError
from estimator.config import load_model_spec
from estimator.weights import weight_bytes
from sources import safejson
from sources.local import load_local, read_safetensors_header

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
QWEN_7B = FIXTURES / "configs" / "Qwen__Qwen2.5-7B.json"
MOE = FIXTURES / "configs" / "Qwen__Qwen3-30B-A3B.json"


def qwen() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(QWEN_7B.read_text())
    return data


def vram(args: list[str], settings: Settings) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(args, out=out, err=err, settings=settings, read=lambda _prompt="": "")
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def settings(sqlite_url: str) -> Settings:
    return Settings(database_url=sqlite_url)


# ---------------------------------------------------------------- command text


@pytest.mark.parametrize("key", ["s", "b", "gpus", "mnbt", "seqs"])
@pytest.mark.parametrize("digits", [309, 400, 5000])
def test_huge_integers_are_out_of_range(key: str, digits: int) -> None:
    # float("9" * 309) is inf and int(inf) raised OverflowError; 4,300+ digits int() refuses.
    with pytest.raises(InputError, match="out of range") as caught:
        parse(f"org/model {key}={'9' * digits}")
    assert len(str(caught.value)) < 200  # the number is cut, not echoed whole


def test_counts_stay_exact_past_float_precision() -> None:
    # 16777217 is not a float (2**24 + 1): the seq-len bound is exact, so one past it is refused.
    with pytest.raises(InputError, match="out of range"):
        parse("org/model s=16777217")
    assert parse("org/model s=16777216").query.seq_len == 16 * 1024 * 1024  # type: ignore[union-attr]
    with pytest.raises(InputError, match="not a whole number"):
        parse("org/model s=1.5")


@pytest.mark.parametrize("value", ["1e9", "1.3", "lots"])
def test_a_count_that_is_not_one_says_what_is_accepted(value: str) -> None:
    # "s=1e9 is not a whole number" alone left the reader guessing: the range and the spellings follow.
    with pytest.raises(InputError) as caught:
        parse(f"org/model s={value}")
    assert str(caught.value) == (
        f"s={value} is not a whole number: s takes one from 1 to 16,777,216 in digits, "
        "k meaning x1024 and m x1048576, or max for the model's longest context (s=4096, s=32k, s=max)"
    )


@pytest.mark.parametrize(
    ("key", "value", "high"), [("s", "-5", "16,777,216"), ("b", "-2k", "1,048,576"), ("s", "-0.5", "16,777,216")]
)
def test_a_negative_count_says_the_range(key: str, value: str, high: str) -> None:
    # "s=-5 is not a whole number" is false: -5 is one, just below the range.
    with pytest.raises(InputError) as caught:
        parse(f"org/model {key}={value}")
    assert str(caught.value) == f"{key}={value} is out of range: it must be between 1 and {high}"


@pytest.mark.parametrize("args", [[""], ["  "], ["", "s=4k"], ["", "--json"]])
def test_an_empty_model_argument_is_bad_input(args: list[str], settings: Settings) -> None:
    # vram "" (an unset shell variable) printed the help with exit status 0.
    code, out, err = vram(args, settings)
    # With --json the same error is also an object on stdout (docs/interface.md).
    assert (code, out) == (2, "") if "--json" not in args else (code, json.loads(out)["error"]["exit_code"]) == (2, 2)
    assert err == (
        "vram: the model is empty: give a Hub repo id (microsoft/phi-4), a config.json, a model folder or a GGUF file\n"
    )


LONG = "1." + "0" * 3000  # a float with thousands of digits: every echo of it is cut


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["org/model", f"s={LONG}"], "s="),  # the grammar's range sentence
        (["org/model", f"kv={LONG}"], "kv="),  # not one of the choices
        (["org/model", f"gpu={LONG}"], "unknown GPU"),
        (["org/model", f"s=1e{'9' * 3000}"], "not a whole number"),
        (["org/model", "s=4k", f"s={LONG}"], "s=4k"),  # given twice: both echoed
        ([f"can org/model run {LONG}k on an h100?"], "s="),  # plain words: float() gave inf
        ([f"can org/model run 4k for {LONG} users on an h100?"], "b="),
        ([f"can org/model run 4k on {'9' * 3000} h100s?"], "not used: 999"),  # the read-as lines
    ],
)
def test_long_numbers_are_cut_in_terminal_sentences(args: list[str], named: str, settings: Settings) -> None:
    code, out, err = vram(args, settings.model_copy(update={"hf_hub_offline": "1"}))
    shown = out + err
    assert code in (1, 2) and "Traceback" not in shown
    assert named in shown
    assert "0" * 200 not in shown and "9" * 200 not in shown  # cut, as a long model id is
    assert len(shown) < 1000


@pytest.mark.parametrize(
    "text",
    ["show ²", "show ١٢", "show 0", "show -1", "show 1.0", "show " + "9" * 5000, "show 99999999999999999999", "show #"],
)
def test_show_takes_an_ascii_record_number(text: str) -> None:
    with pytest.raises(InputError, match="show needs the number"):
        parse(text)


def test_show_keeps_the_forms_people_type() -> None:
    assert parse("show 42") == ShowCmd(record_id=42)
    assert parse("show #42") == ShowCmd(record_id=42)
    assert parse("show 9223372036854775807") == ShowCmd(record_id=2**63 - 1)


def test_show_of_an_id_past_the_database_integer_is_a_sentence(settings: Settings) -> None:
    # 19 digits parse; a value beyond SQLite's 64-bit integer must not reach the driver.
    code, _, err = vram(["show", "9999999999999999999"], settings)
    assert code == 1 and err.startswith("vram: no query #9999999999999999999")


def test_tiny_parameter_override_is_refused() -> None:
    # n=1e-300 rounded the weights to 0 bytes.
    with pytest.raises(InputError, match="n=1e-300 is out of range"):
        parse("org/model n=1e-300")
    assert parse("org/model n=0.5").query.params_billions == 0.5  # type: ignore[union-attr]


def test_a_path_part_longer_than_a_file_name_is_bad_input(settings: Settings) -> None:
    long_path = "./" + "a" * 300 + "/config.json"
    with pytest.raises(InputError, match="longer than a file name"):
        load_local(long_path)
    code, out, err = vram([long_path], settings)
    assert code == 2 and out == ""
    assert err.startswith("vram: ") and "Traceback" not in err and err.count("\n") == 1
    # The failure is kept in the history, the path cut to the model column.
    code, out, _ = vram(["history", "--json"], settings)
    items = json.loads(out)
    assert code == 0 and len(items) == 1 and items[0]["status"] == "error"


# ---------------------------------------------------------------- JSON and headers


def test_deep_json_is_refused_before_decoding(tmp_path: Path) -> None:
    deep = tmp_path / "config.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    with pytest.raises(ConfigError, match="nests 100000 levels deep"):
        load_local(str(deep))
    obj = tmp_path / "obj" / "config.json"
    obj.parent.mkdir()
    obj.write_text('{"a":' * 100_000 + "1" + "}" * 100_000)
    with pytest.raises(ConfigError, match="nests"):
        load_local(str(obj))


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"name": "[[[[{{{{" * 1000, "list": [[1]]})
    assert safejson.json_depth(text.encode()) == 3
    assert safejson.loads(text, what="x")["list"] == [[1]]


def test_oversized_json_is_refused() -> None:
    with pytest.raises(ConfigError, match="more than the 10 bytes"):
        safejson.loads(b'{"a": 123456}', what="x", max_bytes=10)


def _safetensors(header: bytes, data: bytes = b"") -> tuple[io.BytesIO, int]:
    blob = struct.pack("<Q", len(header)) + header + data
    return io.BytesIO(blob), len(blob)


def test_deep_safetensors_header_is_a_config_error() -> None:
    handle, size = _safetensors(b'{"t":' * 100_000 + b"1" + b"}" * 100_000)
    with pytest.raises(ConfigError, match=r"safetensors header of w\.safetensors nests"):
        read_safetensors_header(handle.read, size, "w.safetensors")


def test_a_plain_safetensors_header_still_reads() -> None:
    header = json.dumps({"w": {"dtype": "BF16", "shape": [2, 3], "data_offsets": [0, 12]}}).encode()
    handle, size = _safetensors(header, b"\0" * 12)
    tensors = read_safetensors_header(handle.read, size, "w.safetensors")
    assert tensors["w"].shape == (2, 3) and tensors["w"].nbytes == 2 * 3 * 2


# ---------------------------------------------------------------- config fields


@pytest.mark.parametrize(
    ("field", "value", "sentence"),
    [
        ("vocab_size", 1e308, "vocab_size=1e+308: vram reads models of at most 16,777,216 tokens"),
        ("vocab_size", 10**400, "vocab_size="),
        ("hidden_size", 1e30, "hidden_size=1e+30: vram reads models of at most 1,048,576 hidden units"),
        ("hidden_size", -3584, "hidden_size=-3584; it cannot be negative"),
        ("num_attention_heads", float("nan"), "num_attention_heads=nan, which is not a usable number"),
        ("intermediate_size", float("inf"), "intermediate_size=inf, a value vram cannot read"),
        ("max_position_embeddings", 10**300, "max_position_embeddings="),
        ("rope_theta", float("nan"), "rope_theta=nan, which is not a usable number"),
    ],
)
def test_absurd_config_fields_are_named(field: str, value: Any, sentence: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_model_spec({**qwen(), field: value})
    assert sentence in str(caught.value)
    assert len(str(caught.value)) < 200


def test_a_nested_text_config_is_checked_too() -> None:
    config = {"model_type": "llava", "text_config": {**qwen(), "hidden_size": 10**12}}
    with pytest.raises(ConfigError, match="hidden_size=1000000000000"):
        load_model_spec(config)


def test_deeply_nested_config_mapping_is_refused() -> None:
    nested: Any = 1
    for _ in range(500):
        nested = {"x": nested}
    with pytest.raises(ConfigError, match="nests more than 32 levels"):
        load_model_spec({**qwen(), "extra": nested})


def test_infinity_where_real_configs_use_it_still_reads() -> None:
    # Mamba-2 configs say time_step_limit: [0.0, Infinity].
    config = json.loads((FIXTURES / "oracle" / "configs" / "mamba2.json").read_text())
    assert config["time_step_limit"][1] == float("inf")
    assert load_model_spec(config).num_layers > 0


def test_the_product_of_capped_fields_is_still_bounded() -> None:
    # Each field under its cap, the whole 1.6e16 parameters: refused as a total.
    config = {
        **qwen(),
        "hidden_size": 1 << 20,
        "intermediate_size": 1 << 22,
        "num_hidden_layers": 1000,
        "num_attention_heads": 1024,
        "num_key_value_heads": 1024,
        "head_dim": 1024,
    }
    with pytest.raises(ConfigError, match="parameters, more than 1e"):
        load_model_spec(config)


def test_more_experts_per_token_than_experts_is_refused() -> None:
    config = json.loads(MOE.read_text())
    assert config["num_experts"] == 128
    with pytest.raises(ConfigError, match="num_experts_per_tok cannot exceed the expert count"):
        load_model_spec({**config, "num_experts_per_tok": 129})
    spec = load_model_spec({**config, "num_experts_per_tok": 128})
    assert spec.params.active <= spec.params.total


@pytest.mark.parametrize(
    "qc",
    [
        {"quant_method": "fp8", "weight_block_size": [0, 0]},
        {"quant_method": "fp8", "weight_block_size": [-128, 128]},
        {"quant_method": "gptq", "bits": -4},
        {"quant_method": "gptq", "bits": 1_000_000},
        {"quant_method": "gptq", "bits": 4, "group_size": 0.5},
        {
            "quant_method": "compressed-tensors",
            "config_groups": {
                "g": {"weights": {"num_bits": 8, "type": "float", "strategy": "block", "block_structure": [0, 128]}}
            },
        },
        {
            "quant_method": "compressed-tensors",
            "config_groups": {"g": {"weights": {"num_bits": 4, "type": "int", "strategy": "group", "group_size": 0}}},
        },
    ],
)
def test_quantization_that_divides_by_zero_or_goes_negative_is_refused(qc: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_model_spec({**qwen(), "quantization_config": qc})


def test_gptq_bits_minus_four_is_exit_1_not_negative_weights(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(json.dumps({**qwen(), "quantization_config": {"quant_method": "gptq", "bits": -4}}))
    code, out, err = vram([str(path), "--json"], settings)
    assert code == 1 and json.loads(out)["error"]["code"] == "config"
    assert "weight_bits" in err and "Traceback" not in err


def test_a_real_fp8_block_config_still_sizes() -> None:
    spec = load_model_spec({**qwen(), "quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}})
    plain = load_model_spec(qwen())
    # fp8 weights plus fp32 block scales: more than half of bf16's bytes, less than all of them.
    assert weight_bytes(plain) // 2 < weight_bytes(spec) < weight_bytes(plain)


def test_home_of_an_unknown_user_is_bad_input(settings: Settings) -> None:
    # Path("~0").expanduser() raises RuntimeError when no user "0" has a home folder.
    code, _, err = vram(["~nosuchuser0"], settings)
    assert code == 2 and err.startswith("vram: ~nosuchuser0 names the home folder") and "Traceback" not in err
    code, out, _ = vram(["history", "--json"], settings)
    assert code == 0 and json.loads(out)[0]["status"] == "error"


@pytest.mark.parametrize("model", ["~nosuchuser0/config.json", "/" + "a" * 300])
def test_names_of_paths_the_machine_cannot_look_at_are_shown_as_typed(model: str) -> None:
    # History lists what people typed; a path the OS refuses must not break the listing.
    assert model_name(model) == model


def test_negative_dimensions_in_a_safetensors_header_are_refused() -> None:
    # [-2, -3] of BF16 has 6 elements, 12 bytes: the byte check alone would let it through.
    header = json.dumps({"w": {"dtype": "BF16", "shape": [-2, -3], "data_offsets": [0, 12]}}).encode()
    handle, size = _safetensors(header, b"\0" * 12)
    with pytest.raises(ConfigError, match=r"negative dimension in its shape \[-2, -3\]"):
        read_safetensors_header(handle.read, size, "w.safetensors")


@pytest.mark.parametrize("value", [0, -512, "512x", 1.5])
def test_a_per_layer_head_dim_that_is_not_a_count_is_a_config_error(value: object) -> None:
    # Gemma-4's per_layer_config overrides one layer's head_dim; a zero reached vLLM's page
    # unification as a zero-byte page (a division by zero) before this was checked.
    cfg = json.loads((FIXTURES / "oracle" / "configs" / "gemma4_text.json").read_text())
    cfg["per_layer_config"]["05"] = {"head_dim": value}
    with pytest.raises(ConfigError, match="head_dim"):
        load_model_spec(cfg)


def test_an_absurd_image_size_is_a_config_error() -> None:
    # A vision tower's image_size of 89,304,292 pixels made (89,304,292 / 14)^2 patches: an answer of
    # 10^18 bytes. Real towers take 224-2,048 pixels a side.
    cfg = json.loads((FIXTURES / "configs" / "mistralai__Mistral-Small-3.1-24B-Instruct-2503.json").read_text())
    cfg["vision_config"]["image_size"] = 89_304_292.0
    with pytest.raises(ConfigError, match="image_size"):
        load_model_spec(cfg)
    cfg["vision_config"]["image_size"] = 1540
    assert load_model_spec(cfg).vision is not None


@pytest.mark.parametrize(
    "args",
    [
        ["org/mo\udcffdel", "s=8k"],  # an undecodable byte of a terminal argument (surrogateescape)
        ["org/model", "s=8\ud800k"],  # a lone surrogate, as a JSON "\ud800" escape decodes
        ["\ud800rg/model", "s=8k"],
    ],
)
def test_lone_surrogates_end_in_a_sentence_and_are_kept(args: list[str], settings: Settings) -> None:
    # UTF-8 cannot carry a lone surrogate: writing the query to history raised UnicodeEncodeError
    # out of the service (a traceback). It is read as U+FFFD, refused in one sentence and kept.
    code, out, err = vram(args, settings)
    assert code == 2 and out == ""
    assert err.startswith("vram: ") and "\ufffd" in err and "Traceback" not in err
    code, out, _ = vram(["history", "--json"], settings)
    assert code == 0 and json.loads(out)[0]["text"] == " ".join(args).replace("\udcff", "\ufffd").replace(
        "\ud800", "\ufffd"
    )
