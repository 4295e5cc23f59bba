"""What the terminal calls a model: the Hub id as is; a local config or checkpoint by its model's name.

A local model is kept (and given in ``--json``) by its absolute path, which says little and which a
narrow column cuts to the same prefix for every model. People know it by the name its
``config.json`` was saved under (``_name_or_path``), else by its folder or file name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

# A config larger than this is not a config: do not read it just to find a name.
_CONFIG_MAX_BYTES = 4 * 1024 * 1024
# What a Hub id looks like (``org/name`` or ``name``); a saved local path is not a name.
_HUB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]*(/[A-Za-z0-9][A-Za-z0-9._\-]*)?$")


def is_local(model: str) -> bool:
    """Whether ``model`` names a local file or folder (as typed, or as the absolute path kept)."""
    return model.startswith(("/", "./", "../", "~", ".\\")) or model.endswith((".json", ".gguf"))


def _saved_name(config_path: Path) -> str | None:
    try:
        if not config_path.is_file() or config_path.stat().st_size > _CONFIG_MAX_BYTES:
            return None
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = config.get("_name_or_path") if isinstance(config, dict) else None
    if isinstance(name, str) and _HUB_ID_RE.match(name) and not name.startswith("."):
        return name
    return None


def model_name(model: str) -> str:
    """The name to show for ``model``: a Hub id unchanged; for a local path, the model's own name."""
    if not is_local(model):
        return model
    try:
        return _local_name(model)
    except (OSError, RuntimeError, ValueError):
        # A path this machine cannot look at (a part too long, "~user" unknown, a NUL): shown as typed.
        return model


def _local_name(model: str) -> str:
    path = Path(model).expanduser()
    if path.suffix.lower() == ".gguf":
        return path.stem
    config = path / "config.json" if path.is_dir() or not path.suffix else path
    saved = _saved_name(config)
    if saved:
        return saved
    if path.name.lower() == "config.json" or path.is_dir():
        folder = path.parent if path.name.lower() == "config.json" else path
        return folder.resolve().name or model
    return path.stem or model


def shorten_paths(text: str) -> str:
    """``text`` as typed, with each local path cut to its file or folder name, the value of a
    ``key=path`` setting (``draft=``) too."""

    def short(word: str) -> str:
        key, eq, value = word.partition("=")
        if eq and key and not is_local(key):
            return f"{key}={short(value)}" if value else word
        return Path(word).name or word if is_local(word) else word

    return " ".join(short(word) for word in text.split())
