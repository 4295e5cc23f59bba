"""A fake Hugging Face Hub: a real HTTP server on 127.0.0.1 for the real ``huggingface_hub`` client.

It serves what the client really calls, with the Hub's status codes and headers:

- ``GET /api/models/{repo}`` and ``/api/models/{repo}/revision/{rev}`` (``expand=`` honoured): id in
  the Hub's casing, sha, gated, private, siblings, a config excerpt, safetensors counts by dtype
  (computed from the served headers, as the Hub computes them), gguf;
- ``HEAD``/``GET /{repo}/resolve/{rev}/{file}`` with ``Range`` (206 + ``Content-Range``),
  ``X-Repo-Commit``, ``ETag``, ``Content-Length``, ``Accept-Ranges``;
- ``POST /api/models/{repo}/paths-info/{rev}`` (file sizes) and ``GET /api/models?search=`` (substring
  of the id; ``sort=downloads`` puts the most downloaded first; ``hub.downloads`` and ``hub.listed``);
- large (LFS) files as the Hub serves them: ``302`` from ``/resolve/`` to a CDN on another origin
  (``http://localhost:{port}/cdn/...``, so the client drops the Authorization header on the way, as
  it must) with ``X-Linked-Size`` and ``X-Linked-ETag``; the CDN answers ``Range`` reads;
- errors as the Hub answers them: ``X-Error-Code`` RepoNotFound (401 without a token, 404 with
  one; private repos look missing), GatedRepo (401 without a token, 403 with one not granted),
  RevisionNotFound, EntryNotFound; 401 "Invalid credentials in Authorization header" for a token
  the Hub does not know; injectable 5xx; 307 redirects to the Hub's casing and for renamed repos.

``hub.delay_s`` delays every answer and ``hub.drip_s`` drips bodies byte by byte (timeout tests);
``hub.log`` records every request.
Large files are sparse: a real header followed by zeros generated on demand.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import sys
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
DTYPE_BYTES = {
    "F64": 8,
    "F32": 4,
    "F16": 2,
    "BF16": 2,
    "I64": 8,
    "I32": 4,
    "I16": 2,
    "I8": 1,
    "U8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "BOOL": 1,
}


# -- file contents ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SparseFile:
    """A file of ``size`` bytes: ``prefix`` then zeros (a checkpoint without its weights)."""

    prefix: bytes
    size: int

    def read(self, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` inclusive."""
        end = min(end, self.size - 1)
        if start > end:
            return b""
        head = self.prefix[start : end + 1] if start < len(self.prefix) else b""
        return head + bytes(end + 1 - start - len(head))


Content = bytes | SparseFile


def content_size(content: Content) -> int:
    return content.size if isinstance(content, SparseFile) else len(content)


def content_read(content: Content, start: int, end: int) -> bytes:
    if isinstance(content, SparseFile):
        return content.read(start, end)
    return content[start : end + 1]


Tensor = tuple[str, str, tuple[int, ...]]  # name, safetensors dtype, shape


def tensor_bytes(dtype: str, shape: tuple[int, ...]) -> int:
    n = DTYPE_BYTES[dtype]
    for d in shape:
        n *= d
    return n


def safetensors_file(tensors: Iterable[Tensor], metadata: dict[str, str] | None = None) -> SparseFile:
    """A real safetensors file: 8-byte little-endian header length, JSON header padded with spaces
    to a multiple of 8 (as the safetensors writer pads it), then the data section (zeros)."""
    header: dict[str, Any] = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for name, dtype, shape in tensors:
        size = tensor_bytes(dtype, shape)
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    return SparseFile(prefix=struct.pack("<Q", len(text)) + text, size=8 + len(text) + offset)


def shard(tensors: list[Tensor], names: list[str]) -> tuple[dict[str, Content], int]:
    """Split tensors over shard files of about equal size, with model.safetensors.index.json."""
    total = sum(tensor_bytes(d, s) for _, d, s in tensors)
    per = total / len(names)
    groups: list[list[Tensor]] = [[] for _ in names]
    done = 0
    for t in tensors:
        i = min(int(done // per), len(names) - 1)
        groups[i].append(t)
        done += tensor_bytes(t[1], t[2])
    files: dict[str, Content] = {}
    weight_map: dict[str, str] = {}
    for name, group in zip(names, groups, strict=True):
        files[name] = safetensors_file(group)
        weight_map.update({t[0]: name for t in group})
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    files["model.safetensors.index.json"] = json.dumps(index, indent=2).encode()
    return files, total


def dense_decoder_tensors(config: dict[str, Any], *, qk_norm: bool, lm_head: bool) -> list[Tensor]:
    """Tensors of a Llama/Qwen-style decoder in BF16, named and shaped as transformers saves them."""
    h, n = config["hidden_size"], config["num_hidden_layers"]
    heads, kv = config["num_attention_heads"], config["num_key_value_heads"]
    hd = config.get("head_dim") or h // heads
    inter, vocab = config["intermediate_size"], config["vocab_size"]
    out: list[Tensor] = [("model.embed_tokens.weight", "BF16", (vocab, h))]
    for i in range(n):
        p = f"model.layers.{i}."
        out += [
            (p + "input_layernorm.weight", "BF16", (h,)),
            (p + "post_attention_layernorm.weight", "BF16", (h,)),
            (p + "self_attn.q_proj.weight", "BF16", (heads * hd, h)),
            (p + "self_attn.k_proj.weight", "BF16", (kv * hd, h)),
            (p + "self_attn.v_proj.weight", "BF16", (kv * hd, h)),
            (p + "self_attn.o_proj.weight", "BF16", (h, heads * hd)),
            (p + "mlp.gate_proj.weight", "BF16", (inter, h)),
            (p + "mlp.up_proj.weight", "BF16", (inter, h)),
            (p + "mlp.down_proj.weight", "BF16", (h, inter)),
        ]
        if qk_norm:
            out += [(p + "self_attn.q_norm.weight", "BF16", (hd,)), (p + "self_attn.k_norm.weight", "BF16", (hd,))]
    out.append(("model.norm.weight", "BF16", (h,)))
    if lm_head:
        out.append(("lm_head.weight", "BF16", (vocab, h)))
    return out


def nvfp4_decoder_tensors(config: dict[str, Any]) -> list[Tensor]:
    """A Llama/Qwen-style decoder as NVIDIA ModelOpt saves NVFP4: each linear layer as ``weight`` U8
    [out, in/2] (two FP4 values per byte), ``weight_scale`` F8_E4M3 [out, in/16], and the fp32
    scalars ``weight_scale_2`` and ``input_scale``; embedding, norms and lm_head stay BF16."""
    out: list[Tensor] = []
    for name, dtype, shape in dense_decoder_tensors(config, qk_norm=False, lm_head=True):
        if ".layers." in name and name.endswith("_proj.weight"):
            rows, cols = shape
            base = name.removesuffix(".weight")
            out += [
                (base + ".weight", "U8", (rows, cols // 2)),
                (base + ".weight_scale", "F8_E4M3", (rows, cols // 16)),
                (base + ".weight_scale_2", "F32", ()),
                (base + ".input_scale", "F32", ()),
            ]
        else:
            out.append((name, dtype, shape))
    return out


def dflash_drafter_tensors(config: dict[str, Any]) -> list[Tensor]:
    """A DFlash drafter's tensors as z-lab's checkpoints name them: decoder layers without the
    ``model.`` prefix, ``fc`` (tapped target layers x hidden -> hidden), ``hidden_norm`` and ``norm``;
    no ``embed_tokens`` and no ``lm_head`` (vLLM shares the target's)."""
    layers = [
        (name.removeprefix("model."), dtype, shape)
        for name, dtype, shape in dense_decoder_tensors(config, qk_norm=True, lm_head=False)
        if name != "model.embed_tokens.weight"
    ]
    h = config["hidden_size"]
    taps = len(config["dflash_config"]["target_layer_ids"])
    return [*layers, ("fc.weight", "BF16", (h, taps * h)), ("hidden_norm.weight", "BF16", (h,))]


def awq_decoder_tensors(config: dict[str, Any]) -> list[Tensor]:
    """A Llama/Qwen-style decoder as AutoAWQ (GEMM) saves it: each linear layer as ``qweight``
    I32 [in, out/8] (eight 4-bit values per int32), ``qzeros`` I32 [in/group, out/8] and ``scales``
    F16 [in/group, out]; embeddings, norms and lm_head stay F16."""
    group = config["quantization_config"]["group_size"]
    out: list[Tensor] = []
    for name, _bf16, shape in dense_decoder_tensors(config, qk_norm=True, lm_head=True):
        if name.startswith("model.layers.") and name.endswith("_proj.weight"):
            rows, cols = shape  # torch layout: [out, in]
            base = name.removesuffix(".weight")
            out += [
                (base + ".qweight", "I32", (cols, rows // 8)),
                (base + ".qzeros", "I32", (cols // group, rows // 8)),
                (base + ".scales", "F16", (cols // group, rows)),
            ]
        else:
            out.append((name, "F16", shape))
    return out


def gpt_oss_tensors(config: dict[str, Any]) -> list[Tensor]:
    """gpt-oss as OpenAI published it: experts in MXFP4 (uint8 blocks of 32 fp4 values = 16 bytes,
    plus one uint8 scale per block), everything else BF16."""
    h, n, e = config["hidden_size"], config["num_hidden_layers"], config["num_local_experts"]
    heads, kv, hd = config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]
    inter, vocab = config["intermediate_size"], config["vocab_size"]
    blocks = h // 32  # 32-element blocks along the input dimension
    out: list[Tensor] = [("model.embed_tokens.weight", "BF16", (vocab, h))]
    for i in range(n):
        p = f"model.layers.{i}."
        out += [
            (p + "input_layernorm.weight", "BF16", (h,)),
            (p + "post_attention_layernorm.weight", "BF16", (h,)),
            (p + "self_attn.q_proj.weight", "BF16", (heads * hd, h)),
            (p + "self_attn.q_proj.bias", "BF16", (heads * hd,)),
            (p + "self_attn.k_proj.weight", "BF16", (kv * hd, h)),
            (p + "self_attn.k_proj.bias", "BF16", (kv * hd,)),
            (p + "self_attn.v_proj.weight", "BF16", (kv * hd, h)),
            (p + "self_attn.v_proj.bias", "BF16", (kv * hd,)),
            (p + "self_attn.o_proj.weight", "BF16", (h, heads * hd)),
            (p + "self_attn.o_proj.bias", "BF16", (h,)),
            (p + "self_attn.sinks", "BF16", (heads,)),
            (p + "mlp.router.weight", "BF16", (e, h)),
            (p + "mlp.router.bias", "BF16", (e,)),
            (p + "mlp.experts.gate_up_proj_blocks", "U8", (e, 2 * inter, blocks, 16)),
            (p + "mlp.experts.gate_up_proj_scales", "U8", (e, 2 * inter, blocks)),
            (p + "mlp.experts.gate_up_proj_bias", "BF16", (e, 2 * inter)),
            (p + "mlp.experts.down_proj_blocks", "U8", (e, h, inter // 32, 16)),
            (p + "mlp.experts.down_proj_scales", "U8", (e, h, inter // 32)),
            (p + "mlp.experts.down_proj_bias", "BF16", (e, h)),
        ]
    out += [("model.norm.weight", "BF16", (h,)), ("lm_head.weight", "BF16", (vocab, h))]
    return out


# -- GGUF ------------------------------------------------------------------------------------


def _gguf_str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


@cache
def _gguf_str_array(values: tuple[str, ...]) -> bytes:
    """The strings of a GGUF string array (a vocabulary: 128k of them, the same in every variant)."""
    length = struct.Struct("<Q").pack
    return b"".join([length(len(b)) + b for b in [v.encode() for v in values]])


GgufTensor = tuple[str, tuple[int, ...], int]  # name, dimensions (ggml order: fastest first), ggml type


def gguf_header(kvs: list[tuple[str, str, Any]], tensor_count: int, tensors: list[GgufTensor] = ()) -> bytes:
    """A GGUF v3 header: magic, version, tensor count, key-values (types: u32, f32, str, [str], [i32]),
    then the tensor infos (name, dimension count, dimensions, type, data offset)."""
    out = b"GGUF" + struct.pack("<IQQ", 3, tensor_count, len(kvs))
    for key, kind, value in kvs:
        out += _gguf_str(key)
        if kind == "u32":
            out += struct.pack("<II", 4, value)
        elif kind == "f32":
            out += struct.pack("<If", 6, value)
        elif kind == "str":
            out += struct.pack("<I", 8) + _gguf_str(value)
        elif kind == "[str]":
            out += struct.pack("<IIQ", 9, 8, len(value)) + _gguf_str_array(tuple(value))
        elif kind == "[i32]":
            out += struct.pack("<IIQ", 9, 5, len(value)) + struct.pack(f"<{len(value)}i", *value)
        else:
            raise ValueError(kind)
    offset = 0
    for name, dims, ggml_type in tensors:
        out += _gguf_str(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        out += struct.pack("<IQ", ggml_type, offset)
        offset += 32 * len(dims)  # offsets only need to be increasing here
    return out


def llama_3_2_1b_gguf_tensors() -> list[GgufTensor]:
    """llama.cpp's tensors for Llama-3.2-1B: 16 blocks of 9, the tied embedding (no output.weight),
    the final norm and llama-3's rope_freqs (32 values)."""
    f32, q4k, q6k = 0, 12, 14
    out: list[GgufTensor] = [("token_embd.weight", (2048, 128256), q6k)]
    for i in range(16):
        b = f"blk.{i}."
        out += [
            (b + "attn_norm.weight", (2048,), f32),
            (b + "attn_q.weight", (2048, 2048), q4k),
            (b + "attn_k.weight", (2048, 512), q4k),
            (b + "attn_v.weight", (2048, 512), q6k),
            (b + "attn_output.weight", (2048, 2048), q4k),
            (b + "ffn_norm.weight", (2048,), f32),
            (b + "ffn_gate.weight", (2048, 8192), q4k),
            (b + "ffn_up.weight", (2048, 8192), q4k),
            (b + "ffn_down.weight", (8192, 2048), q6k),
        ]
    return [*out, ("output_norm.weight", (2048,), f32), ("rope_freqs.weight", (32,), f32)]


@cache
def llama_3_2_1b_gguf(file_type: int, size: int) -> SparseFile:
    """Key-values of a llama.cpp conversion of Llama-3.2-1B-Instruct (geometry from its config.json),
    the tokenizer arrays in llama.cpp's order (tokens, token types, merges); the rest is zeros.

    Cached: the 128,256-token header takes a fifth of a second to build, and the file is immutable."""
    vocab = 128256
    tokens = [f"t{i}" for i in range(vocab)]
    kvs: list[tuple[str, str, Any]] = [
        ("general.architecture", "str", "llama"),
        ("general.name", "str", "Llama 3.2 1B Instruct"),
        ("llama.block_count", "u32", 16),
        ("llama.context_length", "u32", 131072),
        ("llama.embedding_length", "u32", 2048),
        ("llama.feed_forward_length", "u32", 8192),
        ("llama.attention.head_count", "u32", 32),
        ("llama.attention.head_count_kv", "u32", 8),
        ("llama.rope.freq_base", "f32", 500000.0),
        ("llama.attention.layer_norm_rms_epsilon", "f32", 1e-5),
        ("llama.attention.key_length", "u32", 64),
        ("llama.attention.value_length", "u32", 64),
        ("general.file_type", "u32", file_type),
        ("llama.rope.dimension_count", "u32", 64),
        ("tokenizer.ggml.model", "str", "gpt2"),
        ("tokenizer.ggml.tokens", "[str]", tokens),
        ("tokenizer.ggml.token_type", "[i32]", [1] * vocab),
        ("tokenizer.ggml.merges", "[str]", ["t t"] * 1000),
        ("general.quantization_version", "u32", 2),
    ]
    tensors = llama_3_2_1b_gguf_tensors()
    return SparseFile(prefix=gguf_header(kvs, tensor_count=len(tensors), tensors=tensors), size=size)


# -- repos -----------------------------------------------------------------------------------


def config_bytes(name: str) -> bytes:
    return (CONFIGS / name).read_bytes()


def fake_sha(*parts: str) -> str:
    return hashlib.sha1("\0".join(parts).encode()).hexdigest()


@dataclass
class FakeRepo:
    id: str  # the Hub's casing
    commits: dict[str, dict[str, Content]] = field(default_factory=dict)  # sha -> files
    refs: dict[str, str] = field(default_factory=dict)  # branch or tag -> sha
    gated: str | bool = False  # False, "auto" or "manual"
    private: bool = False
    granted: set[str] = field(default_factory=set)  # tokens that may read it (gated or private)
    gguf: dict[str, Any] | None = None


@dataclass
class Logged:
    method: str
    path: str  # path and query, as received
    authorized: bool  # whether an Authorization header came with it


class FakeHub:
    """The server and its state; tests change the state (commits, delay, failures) as they go."""

    def __init__(self) -> None:
        self.repos: dict[str, FakeRepo] = {}  # lower-case id -> repo
        self.renamed: dict[str, str] = {}  # lower-case old id -> new id
        self.valid_tokens: set[str] = set()
        self.log: list[Logged] = []
        self.delay_s = 0.0
        self.drip_s = 0.0  # send bodies one byte every drip_s (a read timeout never fires)
        self.fail_status: int | None = None  # answer every request with this status (5xx tests)
        self.violations: list[str] = []  # things a client must never do (checked at teardown)
        self.cdn = True  # serve SparseFile (LFS) contents through a 302 to the "CDN" origin
        self.downloads: dict[str, int] = {}  # lower-case id -> downloads, as the model search reports them
        self.listed: list[str] = []  # ids the model search lists without a repo behind them here
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- state ---------------------------------------------------------------------------

    def add_repo(
        self,
        repo_id: str,
        files: dict[str, Content],
        *,
        gated: str | bool = False,
        private: bool = False,
        granted: Iterable[str] = (),
        gguf: dict[str, Any] | None = None,
    ) -> str:
        sha = fake_sha(repo_id, "initial")
        self.repos[repo_id.lower()] = FakeRepo(
            id=repo_id,
            commits={sha: dict(files)},
            refs={"main": sha},
            gated=gated,
            private=private,
            granted=set(granted),
            gguf=gguf,
        )
        self.valid_tokens |= set(granted)
        return sha

    def commit(self, repo_id: str, changes: dict[str, Content], branch: str = "main") -> str:
        """A new commit on ``branch`` with ``changes`` applied; returns its sha."""
        repo = self.repos[repo_id.lower()]
        parent = repo.refs[branch]
        sha = fake_sha(repo_id, parent, *sorted(changes))
        repo.commits[sha] = {**repo.commits[parent], **changes}
        repo.refs[branch] = sha
        return sha

    def tag(self, repo_id: str, name: str, sha: str) -> None:
        self.repos[repo_id.lower()].refs[name] = sha

    def rename(self, old_id: str, new_id: str) -> None:
        self.renamed[old_id.lower()] = new_id

    def requests(self, contains: str = "") -> list[Logged]:
        with self._lock:
            return [r for r in self.log if contains in r.path]

    # -- server --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(_Handler):
            fake = hub

        server = _Server(("127.0.0.1", 0), Handler)
        server.fake = hub
        server.daemon_threads = True
        server.block_on_close = False  # a delayed answer must not hold up the test's teardown
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- answers -------------------------------------------------------------------------

    def wait(self) -> None:
        if self.delay_s > 0:
            self._release.wait(self.delay_s)

    def record(self, method: str, path: str, authorized: bool) -> None:
        with self._lock:
            self.log.append(Logged(method, path, authorized))

    def safetensors_counts(self, files: dict[str, Content]) -> dict[str, int] | None:
        """Element counts by dtype over the checkpoint's files, as the Hub indexes them."""
        names = sorted(f for f in files if f.endswith(".safetensors"))
        if not names:
            return None
        counts: dict[str, int] = {}
        for name in names:
            content = files[name]
            prefix = content_read(content, 0, 7)
            (n,) = struct.unpack("<Q", prefix)
            header = json.loads(content_read(content, 8, 8 + n - 1))
            for key, t in header.items():
                if key == "__metadata__":
                    continue
                elements = 1
                for d in t["shape"]:
                    elements *= d
                counts[t["dtype"]] = counts.get(t["dtype"], 0) + elements
        return counts


class _Server(ThreadingHTTPServer):
    fake: FakeHub

    def handle_error(self, request: Any, client_address: Any) -> None:
        err = sys.exc_info()[1]
        if isinstance(err, ConnectionError):
            return  # a client that gave up (timeout tests) or a connection closed at teardown
        # A bug in the fake itself: fail the test at teardown instead of printing to stderr.
        self.fake.violations.append(f"the fake Hub failed: {err!r}")


class _Error(Exception):
    def __init__(self, status: int, code: str | None, message: str, location: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.location = status, code, message, location


def _etag(content: Content) -> str:
    size = content_size(content)
    return hashlib.sha256(content_read(content, 0, min(size, 1 << 16) - 1) + str(size).encode()).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeHub
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # -- plumbing ------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        hub = self.fake
        auth = self.headers.get("authorization")
        body = b""
        if method == "POST":
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
        hub.record(method, self.path, auth is not None)
        hub.wait()
        try:
            token = auth.removeprefix("Bearer ").strip() if auth else None
            if hub.fail_status is not None and not self.path.startswith("/cdn/"):
                raise _Error(hub.fail_status, None, "Internal Error - We're working hard to fix this")
            if token is not None and token not in hub.valid_tokens:
                raise _Error(401, None, "Invalid credentials in Authorization header")
            self._route(method, token, body)
        except _Error as err:
            headers = {"X-Error-Message": err.message}
            if err.code:
                headers["X-Error-Code"] = err.code
            if err.location:
                headers["Location"] = err.location
            self._send(err.status, json.dumps({"error": err.message}).encode(), headers, method)

    def _send(
        self, status: int, body: bytes, headers: dict[str, str], method: str, content_type: str = "application/json"
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(headers.pop("Content-Length", len(body))))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if method == "HEAD":
            return
        if self.fake.drip_s > 0:
            for i in range(len(body)):
                if self.fake._release.wait(self.fake.drip_s):
                    return  # the hub is stopping
                self.wfile.write(body[i : i + 1])
                self.wfile.flush()
            return
        self.wfile.write(body)

    def _route(self, method: str, token: str | None, body: bytes) -> None:
        split = urlsplit(self.path)
        segments = [unquote(s) for s in split.path.strip("/").split("/")]
        query = parse_qs(split.query)
        if segments[0] == "cdn" and len(segments) >= 4:
            return self._cdn(segments[1], segments[2], "/".join(segments[3:]), method)
        if segments[:2] == ["api", "models"]:
            rest = segments[2:]
            if not rest:
                return self._search(query)
            if len(rest) >= 4 and rest[2] == "paths-info" and method == "POST":
                return self._paths_info(rest[:2], rest[3], token, body)
            if len(rest) == 2:
                return self._model_info(rest, None, token, query, method)
            if len(rest) == 4 and rest[2] == "revision":
                return self._model_info(rest[:2], rest[3], token, query, method)
        if len(segments) >= 5 and segments[2] == "resolve":
            return self._resolve(segments[:2], segments[3], "/".join(segments[4:]), token, method)
        raise _Error(404, None, "Sorry, we can't find the page you are looking for.")

    def _repo(self, parts: list[str], token: str | None) -> FakeRepo:
        """The repo named by ``parts``; a 307 to the Hub's spelling; or RepoNotFound."""
        hub = self.fake
        asked = "/".join(parts)
        repo = hub.repos.get(asked.lower())
        target = repo.id if repo is not None else hub.renamed.get(asked.lower())
        if target is not None and target != asked:
            location = self.path.replace(quote(asked, safe="/"), quote(target, safe="/"), 1)
            if location == self.path:
                location = self.path.replace(asked, target, 1)
            raise _Error(307, None, f"Moved to {target}", location=location)
        if repo is None or (repo.private and token not in repo.granted):
            # The Hub answers 401 to anonymous requests for a missing (or hidden) repo, 404 otherwise.
            raise _Error(401 if token is None else 404, "RepoNotFound", "Repository not found")
        return repo

    def _sha(self, repo: FakeRepo, rev: str | None) -> str:
        rev = rev or "main"
        if rev in repo.refs:
            return repo.refs[rev]
        if SHA_RE.match(rev) and rev in repo.commits:
            return rev
        raise _Error(404, "RevisionNotFound", f"Invalid rev id: {rev}")

    # -- endpoints -----------------------------------------------------------------------

    def _model_info(
        self, parts: list[str], rev: str | None, token: str | None, query: dict[str, list[str]], method: str
    ) -> None:
        repo = self._repo(parts, token)
        sha = self._sha(repo, rev)
        files = repo.commits[sha]
        data: dict[str, Any] = {
            "_id": fake_sha(repo.id)[:24],
            "id": repo.id,
            "modelId": repo.id,
            "author": repo.id.split("/")[0],
            "sha": sha,
            "private": repo.private,
            "gated": repo.gated,
            "disabled": False,
            "siblings": [{"rfilename": f} for f in sorted(files)],
            "tags": [],
            "lastModified": "2025-01-01T00:00:00.000Z",
        }
        try:
            config = json.loads(content_read(files["config.json"], 0, content_size(files["config.json"]) - 1))
            data["config"] = {
                k: config[k] for k in ("architectures", "model_type", "quantization_config") if k in config
            }
        except (KeyError, ValueError, TypeError):
            pass  # no config.json, or one the Hub cannot parse: no config excerpt
        try:
            counts = self.fake.safetensors_counts(files)
        except (ValueError, KeyError, TypeError, struct.error):
            counts = None  # headers the Hub cannot parse are not indexed
        if counts is not None:
            data["safetensors"] = {"parameters": counts, "total": sum(counts.values())}
        if repo.gguf is not None:
            data["gguf"] = repo.gguf
        expand = query.get("expand") or query.get("expand[]")
        if expand:
            data = {k: v for k, v in data.items() if k in {"_id", "id", *expand}}
        self._send(200, json.dumps(data).encode(), {}, method)

    def _resolve(self, parts: list[str], rev: str, path: str, token: str | None, method: str) -> None:
        repo = self._repo(parts, token)
        if repo.gated and token not in repo.granted:
            message = (
                f"Access to model {repo.id} is restricted. You must have access to it and be "
                "authenticated to access it. Please log in."
            )
            raise _Error(401 if token is None else 403, "GatedRepo", message)
        sha = self._sha(repo, rev)
        files = repo.commits[sha]
        if path not in files:
            raise _Error(404, "EntryNotFound", "Entry not found")
        content = files[path]
        size = content_size(content)
        etag = _etag(content)
        if isinstance(content, SparseFile) and self.fake.cdn:
            # An LFS file: the Hub points at its CDN (another origin), with the file's metadata.
            port = self.server.server_address[1]
            location = f"http://localhost:{port}/cdn/{fake_sha(repo.id)}/{sha}/{quote(path)}"
            headers = {
                "X-Repo-Commit": sha,
                "X-Linked-Size": str(size),
                "X-Linked-ETag": f'"{etag}"',
                "ETag": f'"{etag}"',
                "Location": location,
            }
            return self._send(302, b"", headers, method)
        self._serve(content, {"X-Repo-Commit": sha, "ETag": f'"{etag}"'}, method, path)

    def _cdn(self, repo_key: str, sha: str, path: str, method: str) -> None:
        """The CDN: no auth, no repo logic, the blob by its commit and path."""
        for repo in self.fake.repos.values():
            if fake_sha(repo.id) == repo_key and sha in repo.commits and path in repo.commits[sha]:
                return self._serve(
                    repo.commits[sha][path], {"ETag": f'"{_etag(repo.commits[sha][path])}"'}, method, path
                )
        raise _Error(403, None, "Access Denied")

    def _serve(self, content: Content, headers: dict[str, str], method: str, path: str) -> None:
        size = content_size(content)
        headers = {**headers, "Accept-Ranges": "bytes"}
        byte_range = self.headers.get("range")
        if byte_range:
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", byte_range.strip())
            if not m:
                raise _Error(416, None, "Invalid range")
            start = int(m.group(1))
            end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
            if start >= size:
                raise _Error(416, None, "Requested range not satisfiable")
            body = content_read(content, start, end) if method == "GET" else b""
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
            headers["Content-Length"] = str(end - start + 1)
            return self._send(206, body, headers, method, "application/octet-stream")
        if method == "GET" and size > 64 * 1024 * 1024:
            self.fake.violations.append(f"a client downloaded all of {path} ({size} bytes)")
            raise _Error(500, None, "the fake Hub refuses to send a whole checkpoint")
        body = content_read(content, 0, size - 1) if method == "GET" else b""
        headers["Content-Length"] = str(size)
        self._send(200, body, headers, method, "application/octet-stream")

    def _paths_info(self, parts: list[str], rev: str, token: str | None, body: bytes) -> None:
        repo = self._repo(parts, token)
        files = repo.commits[self._sha(repo, rev)]
        paths = parse_qs(body.decode()).get("paths", [])
        out = [
            {"type": "file", "oid": fake_sha(p), "size": content_size(files[p]), "path": p} for p in paths if p in files
        ]
        self._send(200, json.dumps(out).encode(), {}, "POST")

    def _search(self, query: dict[str, list[str]]) -> None:
        term = (query.get("search") or [""])[0].lower()
        limit = int((query.get("limit") or ["1000"])[0])
        ids = [r.id for r in self.fake.repos.values() if not r.private] + self.fake.listed
        hits = [i for i in ids if term in i.lower()]
        if (query.get("sort") or [""])[0] == "downloads":  # the Hub sorts most downloaded first
            hits.sort(key=lambda i: -self.fake.downloads.get(i.lower(), 0))
        out = [
            {
                "_id": fake_sha(i)[:24],
                "id": i,
                "likes": 0,
                "downloads": self.fake.downloads.get(i.lower(), 0),
                "tags": [],
            }
            for i in hits[:limit]
        ]
        self._send(200, json.dumps(out).encode(), {}, "GET")


# -- the standard fixture repos --------------------------------------------------------------


QWEN3_8B_AWQ_SHARDS = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
QWEN3_8B_SHARDS = [f"model-0000{i}-of-00005.safetensors" for i in range(1, 6)]
GPT_OSS_20B_SHARDS = [f"model-0000{i}-of-00002.safetensors" for i in range(3)]
LLAMA_31_8B_SHARDS = [f"model-0000{i}-of-00004.safetensors" for i in range(1, 5)]
GRANTED_TOKEN = "hf_granted_fake_token_0123456789"  # can read the gated and private fixture repos
OTHER_TOKEN = "hf_other_fake_token_9876543210"  # a valid token with no grants


@cache
def standard_files() -> dict[str, dict[str, Content]]:
    """Files of the standard repos (built once per session: headers are real, data zeros)."""
    q8 = json.loads(config_bytes("Qwen__Qwen3-8B.json"))
    q06 = json.loads(config_bytes("Qwen__Qwen3-0.6B.json"))
    oss = json.loads(config_bytes("openai__gpt-oss-20b.json"))
    llama = json.loads(config_bytes("meta-llama__Llama-3.1-8B.json"))
    qwen8_files, _ = shard(dense_decoder_tensors(q8, qk_norm=True, lm_head=True), QWEN3_8B_SHARDS)
    oss_files, _ = shard(gpt_oss_tensors(oss), GPT_OSS_20B_SHARDS)
    llama_files, _ = shard(dense_decoder_tensors(llama, qk_norm=False, lm_head=True), LLAMA_31_8B_SHARDS)
    awq = json.loads(config_bytes("Qwen__Qwen3-8B-AWQ.json"))
    awq_files, _ = shard(awq_decoder_tensors(awq), QWEN3_8B_AWQ_SHARDS)
    # Qwen3-0.6B ties lm_head in its config yet stores it (see engine-notes): one file, with lm_head.
    q06_file = safetensors_file(dense_decoder_tensors(q06, qk_norm=True, lm_head=True))
    readme = b"---\nlicense: apache-2.0\n---\n"
    return {
        "Qwen/Qwen3-8B": {"config.json": config_bytes("Qwen__Qwen3-8B.json"), "README.md": readme, **qwen8_files},
        "Qwen/Qwen3-8B-AWQ": {"config.json": config_bytes("Qwen__Qwen3-8B-AWQ.json"), "README.md": readme, **awq_files},
        "mistralai/Mistral-Small-3.1-24B-Instruct-2503": {
            "config.json": config_bytes("mistralai__Mistral-Small-3.1-24B-Instruct-2503.json"),
            "README.md": readme,
        },
        "Qwen/Qwen3-0.6B": {
            "config.json": config_bytes("Qwen__Qwen3-0.6B.json"),
            "README.md": readme,
            "model.safetensors": q06_file,
        },
        "openai/gpt-oss-20b": {
            "config.json": config_bytes("openai__gpt-oss-20b.json"),
            "README.md": readme,
            **oss_files,
        },
        "meta-llama/Llama-3.1-8B": {
            "config.json": config_bytes("meta-llama__Llama-3.1-8B.json"),
            "README.md": readme,
            **llama_files,
        },
        "bartowski/Llama-3.2-1B-Instruct-GGUF": {
            "README.md": readme,
            # Illustrative file sizes, of the order of the published Q4_K_M and Q8_0 conversions.
            "Llama-3.2-1B-Instruct-Q4_K_M.gguf": llama_3_2_1b_gguf(15, 807_694_464),
            "Llama-3.2-1B-Instruct-Q8_0.gguf": llama_3_2_1b_gguf(7, 1_321_083_008),
        },
        "acme/notes-only": {"README.md": readme},
        "acme/private-qwen": {"config.json": config_bytes("Qwen__Qwen3-0.6B.json"), "model.safetensors": q06_file},
    }


def standard_hub() -> FakeHub:
    """A FakeHub (not started) holding the standard repos."""
    hub = FakeHub()
    files = standard_files()
    for repo_id in (
        "Qwen/Qwen3-8B",
        "Qwen/Qwen3-0.6B",
        "Qwen/Qwen3-8B-AWQ",
        "openai/gpt-oss-20b",
        "mistralai/Mistral-Small-3.1-24B-Instruct-2503",
        "acme/notes-only",
    ):
        hub.add_repo(repo_id, files[repo_id])
    hub.add_repo("meta-llama/Llama-3.1-8B", files["meta-llama/Llama-3.1-8B"], gated="manual", granted=[GRANTED_TOKEN])
    hub.add_repo("acme/private-qwen", files["acme/private-qwen"], private=True, granted=[GRANTED_TOKEN])
    hub.add_repo(
        "bartowski/Llama-3.2-1B-Instruct-GGUF",
        files["bartowski/Llama-3.2-1B-Instruct-GGUF"],
        gguf={"total": 1_235_814_432, "architecture": "llama", "context_length": 131072},
    )
    # Meta renamed its Llama 3.1 repos: the old id redirects.
    hub.rename("meta-llama/Meta-Llama-3.1-8B", "meta-llama/Llama-3.1-8B")
    hub.valid_tokens.add(OTHER_TOKEN)
    return hub
