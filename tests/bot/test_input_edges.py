"""Input a careful user may type by accident: repeated keys, full-width digits, a file that is not a
config, a Postgres URL without its driver."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from bot.cli import run
from bot.commands import EstimateCmd, parse
from bot.settings import Settings
from common.errors import ConfigError, InputError, StoreError
from sources.local import load_local
from store import Store

ROOT = Path(__file__).resolve().parents[2]
PHI4 = "tests/fixtures/configs/microsoft__phi-4.json"


def test_a_key_given_twice_is_refused_with_both_words() -> None:
    with pytest.raises(InputError) as err:
        parse("m/x s=1k s=2k")
    assert str(err.value) == '"s=1k" and "s=2k" set the same key: give it once'
    with pytest.raises(InputError) as err:
        parse("m/x s=1k ctx=2k")  # an alias is the same key
    assert str(err.value) == '"s=1k" and "ctx=2k" set the same key (s): give it once'
    with pytest.raises(InputError):
        parse("compare m/x m/y b=2 batch=4")


def test_full_width_settings_are_read_as_ascii() -> None:
    # NFKC: the full-width forms an East Asian input method types are their ASCII letters and digits.
    cmd = parse("m/x s=１６k")
    assert isinstance(cmd, EstimateCmd) and cmd.query.seq_len == 16 * 1024
    cmd = parse("m/x ｓ＝３２ｋ　ｂ＝２")  # full-width letters, equals sign and an ideographic space
    assert isinstance(cmd, EstimateCmd) and (cmd.query.seq_len, cmd.query.batch) == (32 * 1024, 2)


@pytest.mark.parametrize("text", ["m/x s=٣k", "m/x b=३", "m/x n=١٤"])  # Arabic-Indic, Devanagari digits
def test_other_scripts_digits_are_refused(text: str) -> None:
    with pytest.raises(InputError) as err:
        parse(text)
    assert "is not a" in str(err.value)


def test_a_local_file_that_is_not_a_config_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    for name in ("README.md", "./README.md", "pyproject.toml"):
        with pytest.raises(ConfigError) as err:
            load_local(name)
        assert str(err.value).startswith(f"{name} is not a model config")
    other = tmp_path / "settings"
    other.write_text('{"name": "not a model"}')
    with pytest.raises(ConfigError, match="is not a model config"):
        load_local(str(other))


def test_vram_readme_md_is_not_looked_up_on_the_hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # a Hub lookup would fail differently
    out, err = io.StringIO(), io.StringIO()
    code = run(["README.md"], out=out, err=err, settings=Settings(database_url=f"sqlite:///{tmp_path / 'db'}"))
    assert code != 0
    assert err.getvalue().startswith("vram: README.md is not a model config"), err.getvalue()
    assert "Hub" not in err.getvalue().split(":", 2)[1]


@pytest.mark.parametrize(
    "url", ["postgresql://u@127.0.0.1/d", "postgresql+psycopg://u@127.0.0.1/d", "postgres://u@127.0.0.1/d"]
)
def test_postgres_without_its_driver_names_the_extra(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # As if psycopg were not installed: importing it fails.
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(StoreError) as err:
        Store(url)
    assert "pip install 'vram[postgres]'" in str(err.value) and "\n" not in str(err.value)
