"""JSON from untrusted files with bounds: a size cap and a nesting cap, checked before decoding.

``json.loads`` recurses once per level of nesting, so a file of 100,000 ``[`` ends in a
``RecursionError`` (or, below the interpreter's limit, in a structure that later code walking it
recursively cannot handle). Real configs and safetensors headers nest a few levels deep; the depth
is measured on the raw text (strings removed) before the decoder sees it.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate
from typing import Any

from common.errors import ConfigError

MAX_JSON_DEPTH = 64  # real config.json files nest 3-5 levels; safetensors headers 3
MAX_JSON_BYTES = 100 * 1024 * 1024  # the safetensors format's own header limit

# A JSON string (escapes included); removing them leaves only the brackets that nest.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


def json_depth(data: bytes) -> int:
    """The deepest nesting of ``[`` and ``{`` in JSON text (0 for a scalar)."""
    brackets = _BRACKETS.findall(_STRING.sub(b"", data))
    return max(accumulate(1 if b in (b"[", b"{") else -1 for b in brackets), default=0)


def loads(data: bytes | str, *, what: str, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Decode ``data``, or raise :class:`ConfigError` naming ``what`` when it is too big, too deep or not JSON."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise ConfigError(
            f"{what} is {len(raw):,} bytes, more than the {max_bytes:,} bytes vram reads: it cannot be right"
        )
    depth = json_depth(raw)
    if depth > max_depth:
        raise ConfigError(f"{what} nests {depth} levels deep (more than {max_depth}): vram cannot read it")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as err:
        raise ConfigError(f"{what} is not valid JSON: vram cannot read it") from err
