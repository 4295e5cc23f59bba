"""Local models: a config.json, or a model folder with its safetensors and GGUF files.

Headers are read exactly (the 8-byte length, the JSON header, every tensor's data offsets), never
the weights. The same byte parsers serve :mod:`sources.hub`, which feeds them range reads.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common.errors import ConfigError, InputError, NotFoundError
from estimator.config import SAFETENSORS_DTYPE_BYTES
from estimator.spec import SafetensorsInfo, TensorInfo
from sources import safejson
from sources.gguf import gguf_variant_bytes, parse_gguf, pick_gguf
from sources.model import ResolvedModel

SAFETENSORS_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors format's own limit
MAX_CONFIG_BYTES = 64 * 1024 * 1024  # the largest real index.json files are a few MB


def is_local_reference(text: str) -> bool:
    """Whether ``text`` names a local file or folder rather than a Hub repo id."""
    if text.startswith(("/", "./", "../", "~", ".\\")) or text.endswith((".json", ".gguf")):
        return True
    if _unusable_path(text):
        return False
    path = Path(text).expanduser()
    # A file here is never a repo id (README.md): reading it says whether it is a config.
    # "org/name" that also exists as a folder here: the folder wins only if it holds a model.
    return path.is_file() or (path.is_dir() and ((path / "config.json").is_file() or any(path.glob("*.gguf"))))


def names_a_folder(text: str) -> bool:
    """Whether ``text`` (read as a Hub id) is also the name of a folder here."""
    if _unusable_path(text):
        return False
    try:
        return Path(text).expanduser().is_dir()
    except OSError:
        return False


_MAX_PART_BYTES = 255  # NAME_MAX of the common file systems
_MAX_PATH_BYTES = 4096  # PATH_MAX on Linux


def _unusable_path(text: str) -> str | None:
    """Why ``text`` cannot name a file here (the OS would answer ENAMETOOLONG or refuse a NUL), if so."""
    if "\0" in text:
        return "it holds a NUL character"
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw) > _MAX_PATH_BYTES:
        return f"it is {len(raw):,} bytes long, more than a path may be ({_MAX_PATH_BYTES:,})"
    if any(len(part.encode("utf-8", "surrogatepass")) > _MAX_PART_BYTES for part in text.split("/")):
        return f"one of its parts is longer than a file name may be ({_MAX_PART_BYTES} bytes)"
    return None


def _shown(text: str) -> str:
    """A path as a sentence shows it: long ones cut."""
    return text if len(text) <= 80 else f"{text[:60]}...{text[-12:]}"


def load_local(text: str) -> ResolvedModel:
    """Read a config.json path or a model folder (with its safetensors or GGUF headers)."""
    problem = _unusable_path(text)
    if problem:
        raise InputError(f"{_shown(text)} cannot be a path: {problem}")
    try:
        path = Path(text).expanduser()
    except RuntimeError:  # "~name" of a user this machine does not have
        raise InputError(f"{_shown(text)} names the home folder of a user this machine does not have") from None
    if not path.exists():
        raise NotFoundError(f"{text} does not exist: give a config.json, a model folder or a Hub id")
    if path.is_file() and path.suffix.lower() == ".gguf":
        return _gguf_model(text, path.parent, [path])
    if path.is_file():
        folder, config_path = path.parent, path
    else:
        folder, config_path = path, path / "config.json"
        if not config_path.is_file():
            ggufs = sorted(folder.glob("*.gguf"))
            if ggufs:
                return _gguf_model(text, folder, ggufs)
            raise NotFoundError(f"{text} holds no config.json (and no GGUF file): vram cannot size it")
    try:
        config = _read_json(config_path, text)
    except ConfigError:
        if config_path.suffix.lower() == ".json":
            raise
        config = None
    if config is None or (config_path.suffix.lower() != ".json" and not _looks_like_config(config)):
        raise ConfigError(f"{text} is not a model config: give a config.json, a model folder, a .gguf file or a Hub id")
    if not isinstance(config, dict):
        raise ConfigError(f"{config_path} is not a JSON object: vram cannot read it")
    hf_quant_path = folder / "hf_quant_config.json"
    if hf_quant_path.is_file():
        config = with_hf_quant_config(config, _read_json(hf_quant_path, str(hf_quant_path)))
    safetensors, warnings = read_safetensors_folder(folder)
    ggufs = sorted(folder.glob("*.gguf"))
    if safetensors is None and ggufs and not any(folder.glob("*.bin")):
        # A config.json beside GGUF weights only: the GGUF file is what gets loaded.
        gguf_only = _gguf_model(text, folder, ggufs)
        assert gguf_only.gguf is not None  # _gguf_model always reads a header
        return gguf_only.model_copy(
            update={
                "model_id": str(path.resolve()),
                "config": config,
                "warnings": (*warnings, f"{text} holds its weights only as GGUF: sized from {gguf_only.gguf.filename}"),
            }
        )
    return ResolvedModel(
        model_id=str(path.resolve()),
        requested_id=text,
        revision=None,
        config=config,
        safetensors=safetensors,
        source="local",
        warnings=warnings,
    )


def with_hf_quant_config(config: dict[str, Any], hf_quant: Any) -> dict[str, Any]:
    """The config with ModelOpt's legacy ``hf_quant_config.json`` as its quantization_config, as
    vLLM reads it (transformers_utils/config.py: "ModelOpt 0.29.0 and before saves the quantization
    config in a separate hf_quant_config.json") where config.json carries none."""
    if not isinstance(hf_quant, dict) or "quantization_config" in config:
        return config
    text = config.get("text_config")
    if isinstance(text, dict) and "quantization_config" in text:
        return config
    return {**config, "quantization_config": {"quant_method": "modelopt", **hf_quant}}


def read_safetensors_folder(folder: Path) -> tuple[SafetensorsInfo | None, tuple[str, ...]]:
    """The tensors of a folder's checkpoint: the index's shards, or every *.safetensors file."""
    index_path = folder / "model.safetensors.index.json"
    if index_path.is_file():
        index = _read_json(index_path, str(index_path))
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise ConfigError(f"{index_path} has no weight_map: vram cannot read it")
        shards = sorted(set(weight_map.values()))
        missing = [s for s in shards if not (folder / s).is_file()]
        if missing:
            return None, (
                f"{len(missing)} of {len(shards)} safetensors shards listed in {index_path.name} are not "
                "in the folder: sizes come from config.json",
            )
        files = [folder / s for s in shards]
    else:
        files = sorted(folder.glob("*.safetensors"))
        if not files:
            return None, ()
    tensors: dict[str, TensorInfo] = {}
    for file in files:
        with file.open("rb") as handle:
            tensors.update(read_safetensors_header(handle.read, file.stat().st_size, str(file)))
    return SafetensorsInfo(parameters=count_by_dtype(tensors), tensors=tensors), ()


def read_safetensors_header(read: Callable[[int], bytes], file_bytes: int, name: str) -> dict[str, TensorInfo]:
    """Parse one safetensors header from a sequential reader; checks every offset against the file."""
    prefix = read(8)
    if len(prefix) < 8:
        raise ConfigError(f"{name} is too short to be a safetensors file")
    (header_bytes,) = struct.unpack("<Q", prefix)
    if header_bytes > SAFETENSORS_MAX_HEADER_BYTES or 8 + header_bytes > file_bytes:
        raise ConfigError(f"{name} has a safetensors header length ({header_bytes}) that cannot be right")
    header = safejson.loads(
        read(header_bytes), what=f"the safetensors header of {name}", max_bytes=SAFETENSORS_MAX_HEADER_BYTES
    )
    return tensors_from_header(header, file_bytes - 8 - header_bytes, name)


def tensors_from_header(header: Any, data_bytes: int, name: str) -> dict[str, TensorInfo]:
    """Tensors of a decoded safetensors header; ``data_bytes`` is the size of the data section."""
    if not isinstance(header, dict):
        raise ConfigError(f"{name} has a safetensors header that is not a JSON object")
    tensors: dict[str, TensorInfo] = {}
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        try:
            dtype, shape = str(entry["dtype"]), tuple(int(d) for d in entry["shape"])
            begin, end = (int(o) for o in entry["data_offsets"])
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"{name}: tensor {key} has a malformed header entry") from err
        if any(dim < 0 for dim in shape):
            raise ConfigError(f"{name}: tensor {key} has a negative dimension in its shape {list(shape)}")
        if not 0 <= begin <= end <= data_bytes:
            raise ConfigError(f"{name}: tensor {key} lies outside the file (offsets {begin}-{end})")
        elements = 1
        for dim in shape:
            elements *= dim
        size = SAFETENSORS_DTYPE_BYTES.get(dtype)
        if size is not None and elements * size != end - begin:
            raise ConfigError(
                f"{name}: tensor {key} has {end - begin} bytes but its shape {list(shape)} of {dtype} "
                f"needs {elements * size}"
            )
        tensors[key] = TensorInfo(dtype=dtype, shape=shape, nbytes=end - begin)
    return tensors


def count_by_dtype(tensors: dict[str, TensorInfo]) -> dict[str, int]:
    """Element counts by dtype, as the Hub reports a checkpoint's ``safetensors.parameters``."""
    counts: dict[str, int] = {}
    for tensor in tensors.values():
        elements = 1
        for dim in tensor.shape:
            elements *= dim
        counts[tensor.dtype] = counts.get(tensor.dtype, 0) + elements
    return counts


def _looks_like_config(data: Any) -> bool:
    """A transformers config names its model type (or, for some older ones, its architectures)."""
    return isinstance(data, dict) and ("model_type" in data or "architectures" in data)


def _read_json(path: Path, shown: str) -> Any:
    try:
        return safejson.loads(path.read_bytes(), what=shown, max_bytes=MAX_CONFIG_BYTES)
    except OSError as err:
        raise NotFoundError(f"{shown} cannot be read ({err.strerror}): check the path") from err


def _gguf_model(text: str, folder: Path, ggufs: list[Path]) -> ResolvedModel:
    sizes = {p.name: p.stat().st_size for p in ggufs}
    chosen = folder / pick_gguf(sorted(sizes))
    with chosen.open("rb") as handle:

        def fetch(offset: int, size: int) -> bytes:
            handle.seek(offset)
            return handle.read(size)

        gguf = parse_gguf(
            fetch,
            filename=chosen.name,
            file_bytes=gguf_variant_bytes(chosen.name, sizes),
            files=sizes,
            source=str(chosen),
        )
    return ResolvedModel(
        model_id=str(Path(text).expanduser().resolve()),
        requested_id=text,
        revision=None,
        config={},
        safetensors=None,
        gguf=gguf,
        source="local",
        warnings=(f"{text} has only GGUF files: sized from {chosen.name}",),
    )
