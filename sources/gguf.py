"""The GGUF header reader: a file's metadata and tensor infos, never its weights.

``parse_gguf`` reads through a ``fetch(offset, size)`` function, so the same parser serves a local
file and the Hub's range requests. What the header means for sizing is :mod:`estimator.gguf`'s work.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import Any

from common.errors import ConfigError
from estimator.gguf import GgufInfo, GgufScalar

GGUF_MAGIC = b"GGUF"
# GGUF value types (ggml's gguf.h): fixed-size scalars as struct formats.
_GGUF_SCALARS: dict[int, str] = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
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

    def __init__(
        self, fetch: Callable[[int, int], bytes], name: str, limit_bytes: int, first_chunk: int = 1 << 20
    ) -> None:
        self._fetch = fetch
        self._name = name
        self._limit = limit_bytes
        self._buffer = b""
        self._start = 0  # file offset of _buffer[0]
        self._chunk = first_chunk
        self.pos = 0

    def _ensure(self, end: int) -> None:
        """Have the bytes up to file offset ``end`` in the buffer."""
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
            if end > self._start + len(self._buffer):
                raise ConfigError(f"{self._name} ends inside its GGUF header: the file is damaged")

    def take(self, size: int) -> bytes:
        end = self.pos + size
        self._ensure(end)
        out = self._buffer[self.pos - self._start : end - self._start]
        self.pos = end
        return out

    def skip_strings(self, count: int) -> None:
        """Step over ``count`` strings without copying or decoding them (a vocabulary holds ~100k)."""
        unpack_from = struct.unpack_from
        for _ in range(count):
            if self.pos + 8 > self._start + len(self._buffer):
                self._ensure(self.pos + 8)
            end = self.pos + 8 + unpack_from("<Q", self._buffer, self.pos - self._start)[0]
            if end > self._start + len(self._buffer):
                self._ensure(end)
            self.pos = end

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
                    reader.skip_strings(count)
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
        filename=filename,
        file_bytes=file_bytes,
        files=files or {filename: file_bytes},
        version=version,
        tensor_count=tensor_count,
        architecture=architecture,
        file_type=int(file_type) if isinstance(file_type, int) else None,
        parameters=parameters,
        tensor_parameters=tensor_parameters,
        tied_embeddings=tied,
        metadata=metadata,
        **fields,
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
        size
        for name, size in sizes.items()
        if name.startswith(stem)
        and (p := _SPLIT_GGUF.search(name)) is not None
        and p.group(2) == parts
        and name[: p.start()] == stem
    )
