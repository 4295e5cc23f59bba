"""Local models: a config.json, or a model folder with its safetensors and GGUF files.

Headers are read exactly (the 8-byte length, the JSON header, every tensor's data offsets), never
the weights. The same byte parsers serve :mod:`estimator.hub`, which feeds them range reads.
"""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

from estimator.errors import ConfigError, NotFoundError
from estimator.resolve import GgufInfo, GgufScalar, ResolvedModel
from estimator.spec import SafetensorsInfo, TensorInfo

SAFETENSORS_MAX_HEADER_BYTES = 100 * 1024 * 1024  # the safetensors format's own limit
# Bytes per element of the safetensors dtypes with a whole-byte element (to check offsets).
SAFETENSORS_DTYPE_BYTES = {
    "F64": 8, "I64": 8, "U64": 8, "F32": 4, "I32": 4, "U32": 4, "F16": 2, "BF16": 2, "I16": 2,
    "U16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I8": 1, "U8": 1, "BOOL": 1,
}


def is_local_reference(text: str) -> bool:
    """Whether ``text`` names a local file or folder rather than a Hub repo id."""
    if text.startswith(("/", "./", "../", "~", ".\\")) or text.endswith((".json", ".gguf")):
        return True
    path = Path(text).expanduser()
    # A file here is never a repo id (README.md): reading it says whether it is a config.
    # "org/name" that also exists as a folder here: the folder wins only if it holds a model.
    return path.is_file() or (path.is_dir() and ((path / "config.json").is_file() or any(path.glob("*.gguf"))))


def load_local(text: str) -> ResolvedModel:
    """Read a config.json path or a model folder (with its safetensors or GGUF headers)."""
    path = Path(text).expanduser()
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
        raise ConfigError(f"{text} is not a model config: give a config.json, a model folder, a .gguf file "
                          "or a Hub id")
    if not isinstance(config, dict):
        raise ConfigError(f"{config_path} is not a JSON object: vram cannot read it")
    safetensors, warnings = read_safetensors_folder(folder)
    ggufs = sorted(folder.glob("*.gguf"))
    if safetensors is None and ggufs and not any(folder.glob("*.bin")):
        # A config.json beside GGUF weights only: the GGUF file is what gets loaded.
        gguf_only = _gguf_model(text, folder, ggufs)
        return gguf_only.model_copy(update={
            "model_id": str(path.resolve()), "config": config,
            "warnings": (*warnings, f"{text} holds its weights only as GGUF: sized from {gguf_only.gguf.filename}"),
        })
    return ResolvedModel(
        model_id=str(path.resolve()), requested_id=text, revision=None, config=config,
        safetensors=safetensors, source="local", warnings=warnings,
    )


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
    try:
        header = json.loads(read(header_bytes))
    except ValueError as err:
        raise ConfigError(f"{name} has a safetensors header that is not valid JSON") from err
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
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise ConfigError(f"{shown} is not valid JSON: vram cannot read it") from err
    except OSError as err:
        raise NotFoundError(f"{shown} cannot be read ({err.strerror}): check the path") from err


# -- GGUF ------------------------------------------------------------------------------------

GGUF_MAGIC = b"GGUF"
# GGUF value types (ggml's gguf.h): fixed-size scalars as struct formats.
_GGUF_SCALARS: dict[int, str] = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
                                 10: "<Q", 11: "<q", 12: "<d"}
_GGUF_STRING, _GGUF_ARRAY = 8, 9
GGUF_MAX_HEADER_BYTES = 64 * 1024 * 1024  # local files; over the network, see hub.GGUF_HEADER_BYTES
# Geometry keys, stored as "{architecture}.{suffix}".
_GGUF_FIELDS = {
    "block_count": "block_count",
    "embedding_length": "embedding_length",
    "feed_forward_length": "feed_forward_length",
    "attention.head_count": "head_count",
    "attention.head_count_kv": "head_count_kv",
    "attention.key_length": "key_length",
    "attention.value_length": "value_length",
    "context_length": "context_length",
    "vocab_size": "vocab_size",
    "expert_count": "expert_count",
    "expert_used_count": "expert_used_count",
    "attention.sliding_window": "sliding_window",
}


class _OverBudget(Exception):
    """The header goes on past the bytes the caller allowed."""


class _RangeReader:
    """Sequential reads over a ``read(offset, size)`` source, fetched in growing chunks."""

    def __init__(self, fetch: Callable[[int, int], bytes], name: str, limit_bytes: int,
                 first_chunk: int = 1 << 20) -> None:
        self._fetch = fetch
        self._name = name
        self._limit = limit_bytes
        self._buffer = b""
        self._start = 0  # file offset of _buffer[0]
        self._chunk = first_chunk
        self.pos = 0

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if end > self._limit:
            raise _OverBudget()
        if end > self._start + len(self._buffer):
            # Keep the unread tail, fetch at least the next chunk; chunks double to bound round trips.
            keep = self._buffer[self.pos - self._start :] if self.pos < self._start + len(self._buffer) else b""
            fetch_from = self.pos + len(keep)
            want = min(max(end - fetch_from, self._chunk), self._limit - fetch_from)
            data = self._fetch(fetch_from, want)
            self._chunk *= 2
            self._buffer, self._start = keep + data, self.pos
            if self.pos + size > self._start + len(self._buffer):
                raise ConfigError(f"{self._name} ends inside its GGUF header: the file is damaged")
        out = self._buffer[self.pos - self._start : end - self._start]
        self.pos = end
        return out

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        length = self.unpack("<Q")
        return self.take(length).decode("utf-8", errors="replace")


def parse_gguf(
    fetch: Callable[[int, int], bytes],
    *,
    filename: str,
    file_bytes: int,
    files: dict[str, int] | None = None,
    parameters: int | None = None,
    source: str | None = None,
    full: bool = True,
    limit_bytes: int = GGUF_MAX_HEADER_BYTES,
) -> GgufInfo:
    """Read a GGUF header through ``fetch(offset, size)`` (a file, or range requests).

    ``full``: on through the tokenizer arrays and the tensor infos, for the exact parameter count
    and whether the output matrix is tied to the embedding; past ``limit_bytes`` (or without
    ``full``), reading stops at the tokenizer's string arrays once the geometry is known (their
    element count is the vocabulary size; their megabytes of strings are not needed for it).
    """
    name = source or filename
    reader = _RangeReader(fetch, name, limit_bytes)
    metadata: dict[str, GgufScalar] = {}
    token_count: int | None = None
    tensor_parameters: int | None = None
    tied: bool | None = None
    try:
        if reader.take(4) != GGUF_MAGIC:
            raise ConfigError(f"{name} is not a GGUF file")
        version = reader.unpack("<I")
        if version not in (2, 3):
            raise ConfigError(f"{name} is GGUF version {version}; vram reads versions 2 and 3")
        tensor_count = reader.unpack("<Q")
        kv_count = reader.unpack("<Q")
        for _ in range(kv_count):
            key = reader.string()
            value_type = reader.unpack("<I")
            if value_type == _GGUF_ARRAY:
                item_type, count = reader.unpack("<I"), reader.unpack("<Q")
                if key == "tokenizer.ggml.tokens":
                    token_count = count
                if item_type == _GGUF_STRING:
                    if not full and key.startswith("tokenizer.") and "general.architecture" in metadata:
                        raise _OverBudget()  # the rest is vocabulary and merges
                    for _ in range(count):
                        reader.string()
                elif item_type in _GGUF_SCALARS:
                    reader.take(struct.calcsize(_GGUF_SCALARS[item_type]) * count)
                else:
                    raise ConfigError(f"{name} has a GGUF array of type {item_type} that vram cannot read")
            elif value_type == _GGUF_STRING:
                metadata[key] = reader.string()
            elif value_type in _GGUF_SCALARS:
                metadata[key] = reader.unpack(_GGUF_SCALARS[value_type])
            else:
                raise ConfigError(f"{name} has a GGUF value of type {value_type} that vram cannot read")
        # Tensor infos: name, dimension count, dimensions, ggml type, data offset.
        total, names = 0, set()
        for _ in range(tensor_count):
            names.add(reader.string())
            dims = reader.unpack("<I")
            elements = 1
            for _ in range(dims):
                elements *= reader.unpack("<Q")
            reader.take(4 + 8)
            total += elements
        tensor_parameters = total
        tied = "output.weight" not in names if "token_embd.weight" in names else None
    except _OverBudget:
        if "general.architecture" not in metadata:
            raise ConfigError(f"{name} has a GGUF header larger than vram reads") from None
    architecture = metadata.get("general.architecture")
    if not isinstance(architecture, str):
        raise ConfigError(f"{name} has no general.architecture: vram cannot size it")
    fields: dict[str, int | None] = {}
    for suffix, field in _GGUF_FIELDS.items():
        value = metadata.get(f"{architecture}.{suffix}")
        fields[field] = int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if fields["vocab_size"] is None:
        fields["vocab_size"] = token_count
    file_type = metadata.get("general.file_type")
    return GgufInfo(
        filename=filename, file_bytes=file_bytes, files=files or {filename: file_bytes}, version=version,
        tensor_count=tensor_count, architecture=architecture,
        file_type=int(file_type) if isinstance(file_type, int) else None,
        parameters=parameters, tensor_parameters=tensor_parameters, tied_embeddings=tied, metadata=metadata,
        **fields,
    )


def _gguf_model(text: str, folder: Path, ggufs: list[Path]) -> ResolvedModel:
    sizes = {p.name: p.stat().st_size for p in ggufs}
    chosen = folder / pick_gguf(sorted(sizes))
    with chosen.open("rb") as handle:

        def fetch(offset: int, size: int) -> bytes:
            handle.seek(offset)
            return handle.read(size)

        gguf = parse_gguf(fetch, filename=chosen.name, file_bytes=gguf_variant_bytes(chosen.name, sizes),
                          files=sizes, source=str(chosen))
    return ResolvedModel(
        model_id=str(Path(text).expanduser().resolve()), requested_id=text, revision=None, config={},
        safetensors=None, gguf=gguf, source="local",
        warnings=(f"{text} has only GGUF files: sized from {chosen.name}",),
    )


def pick_gguf(files: list[str]) -> str:
    """The GGUF file whose header is read: any variant carries the same geometry; prefer Q4_K_M."""
    singles = [f for f in files if "-of-" not in f or "00001-of-" in f]
    pool = singles or files
    for preferred in ("q4_k_m", "q8_0"):
        for f in pool:
            if preferred in f.lower():
                return f
    return pool[0]


_SPLIT_GGUF = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)


def gguf_variant_bytes(chosen: str, sizes: dict[str, int]) -> int:
    """Bytes of the quantisation variant ``chosen`` belongs to: all parts of a split GGUF."""
    m = _SPLIT_GGUF.search(chosen)
    if m is None:
        return sizes.get(chosen, 0)
    stem, parts = chosen[: m.start()], m.group(2)
    return sum(
        size for name, size in sizes.items()
        if name.startswith(stem) and (p := _SPLIT_GGUF.search(name)) is not None and p.group(2) == parts
        and name[: p.start()] == stem
    )
