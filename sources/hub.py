"""The Hugging Face Hub, through ``huggingface_hub``: the only module of vram on the Hub's network.

One ``model_info`` request (sha, safetensors counts by dtype, gated, config, gguf, file list),
then ``config.json`` at the resolved commit. Packed or quantized checkpoints, whose element counts
are not parameter counts, also get their safetensors headers read with range requests (sharded
repos included), so exact bytes per tensor come from the header offsets. Every request has a
timeout taken from one :class:`Deadline`, and every library error becomes one of ours, with the
sentence the user sees.
"""

from __future__ import annotations

import difflib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx2  # the HTTP client huggingface_hub 2.x is built on
from huggingface_hub import HfApi, get_token, try_to_load_from_cache
from huggingface_hub.errors import (
    DisabledRepoError,
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
    SafetensorsParsingError,
)
from huggingface_hub.file_download import hf_hub_url
from huggingface_hub.hf_api import ExpandModelProperty_T
from huggingface_hub.utils import get_session, hf_raise_for_status

from common.errors import (
    ConfigError,
    GatedError,
    HubUnavailableError,
    NotFoundError,
    ResolveError,
)
from estimator.draft import DRAFT_ARCHITECTURES
from estimator.gguf import GgufInfo
from estimator.spec import SafetensorsInfo, TensorInfo
from sources import gguf, local, safejson
from sources.model import ResolvedModel, hub_timeout_sentence, offline_sentence

MODEL_INFO_FIELDS: list[ExpandModelProperty_T] = [
    "sha",
    "safetensors",
    "gated",
    "private",
    "config",
    "gguf",
    "siblings",
]
# Element sizes of safetensors dtypes whose counts the Hub reports; anything else is packed or
# exotic, and the headers are read to know what the elements are.
FLOAT_DTYPES = {"F64", "F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"}
MAX_HEADER_WORKERS = 8
# A GGUF header is read to its tensor infos (exact parameters, tied embeddings) when it ends within
# this many bytes (a 150k vocabulary with its merges takes ~7 MB), else up to its geometry.
GGUF_HEADER_BYTES = 16 * 1024 * 1024
MIN_SEARCH_BUDGET_S = 0.5  # "did you mean" suggestions only when this much time is left


def hf_cache_snapshot(model: str, revision: str | None) -> str | None:
    """The folder huggingface_hub's own cache holds for ``model`` at ``revision`` (branch, tag or sha;
    None: main), found as ``from_pretrained`` finds it offline; None when its config.json is not there."""
    found = try_to_load_from_cache(model, "config.json", revision=revision)
    return os.path.dirname(found) if isinstance(found, str) else None


class Deadline:
    """The total time one resolution may wait on the Hub; each request gets what is left."""

    def __init__(self, total_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.total_s = total_s
        self._clock = clock
        self._end = clock() + total_s

    def remaining(self) -> float:
        return self._end - self._clock()

    def timeout(self) -> float:
        """The timeout for the next request; raises once the budget is spent."""
        left = self.remaining()
        if left <= 0:
            raise HubUnavailableError(self.expired_sentence())
        return left

    def expired_sentence(self) -> str:
        return hub_timeout_sentence(self.total_s)


class HubClient:
    """Fetches what the estimator needs about one Hub model; errors come out as ours."""

    def __init__(self, *, token: str | None = None, endpoint: str | None = None) -> None:
        # token=None lets the library use HF_TOKEN or the saved login; it never appears in a message.
        self._token = token
        self._api = HfApi(endpoint=endpoint, token=token)
        self.endpoint = self._api.endpoint

    def __repr__(self) -> str:
        return f"HubClient(endpoint={self.endpoint!r})"

    @staticmethod
    def deadline(total_s: float) -> Deadline:
        """The time budget of one resolution, starting now."""
        return Deadline(total_s)

    # -- public ------------------------------------------------------------------------------

    def current_sha(self, model: str, revision: str | None, deadline: Deadline) -> str:
        """The commit a branch or tag points at now (one small request)."""
        with self._translate(model, revision, deadline):
            info = self._api.model_info(model, revision=revision, expand=["sha"], timeout=deadline.timeout())
        if not info.sha:
            raise ResolveError(f"the Hub gave no commit for {model}: try again, or pin one with @<commit>")
        return info.sha

    def fetch(self, model: str, revision: str | None, deadline: Deadline) -> ResolvedModel:
        """model_info, config.json at the resolved commit, and headers where the counts fall short."""
        with self._translate(model, revision, deadline):
            info = self._api.model_info(model, revision=revision, expand=MODEL_INFO_FIELDS, timeout=deadline.timeout())
        canonical, sha = info.id, info.sha
        if not sha:
            raise ResolveError(f"the Hub gave no commit for {model}: try again, or pin one with @<commit>")
        files = [s.rfilename for s in info.siblings or []]
        warnings: tuple[str, ...] = ()  # the resolver adds the rename note, which depends on who asks

        with self._translate(canonical, revision, deadline):
            gguf_files = sorted(f for f in files if f.lower().endswith(".gguf"))
            if "config.json" not in files:
                if not gguf_files:
                    raise ConfigError(
                        f"{canonical} has no config.json and no GGUF file: it is not a model vram can "
                        "size; give n= (billions of parameters) instead"
                    )
                header = self._read_gguf(canonical, sha, gguf_files, info.gguf, deadline)
                warnings += (
                    f"{canonical} has only GGUF files: sized from {header.filename} "
                    f"({len(gguf_files)} GGUF file{'s' if len(gguf_files) > 1 else ''} in the repo)",
                )
                return ResolvedModel(
                    model_id=canonical,
                    requested_id=model,
                    revision=sha,
                    config={},
                    safetensors=None,
                    gguf=header,
                    source="hub",
                    warnings=warnings,
                )
            config = self._get_json(canonical, sha, "config.json", deadline)
            if not isinstance(config, dict):
                raise ConfigError(f"config.json of {canonical} is not a JSON object: vram cannot read it")
            if "hf_quant_config.json" in files and not _quantized(config):
                config = local.with_hf_quant_config(
                    config, self._get_json(canonical, sha, "hf_quant_config.json", deadline)
                )
            beside: GgufInfo | None = None
            if gguf_files and not any(f.endswith((".safetensors", ".bin")) for f in files):
                # A config.json beside GGUF weights only: the GGUF file is what gets loaded.
                beside = self._read_gguf(canonical, sha, gguf_files, info.gguf, deadline)
                warnings += (f"{canonical} holds its weights only as GGUF: sized from {beside.filename}",)
            counts = dict(info.safetensors.parameters) if info.safetensors else None
            safetensors = None
            if counts is not None:
                safetensors = SafetensorsInfo(parameters=counts)
            if _needs_headers(config, counts, files):
                tensors = self._read_headers(canonical, sha, files, deadline)
                if tensors is not None:
                    # Counted from the headers read, so counts and tensors describe the same files.
                    safetensors = SafetensorsInfo(parameters=local.count_by_dtype(tensors), tensors=tensors)
        return ResolvedModel(
            model_id=canonical,
            requested_id=model,
            revision=sha,
            config=config,
            safetensors=safetensors,
            gguf=beside,
            source="hub",
            warnings=warnings,
        )

    def suggest(self, model: str, deadline: Deadline, limit: int = 3) -> list[str]:
        """Repo ids close to ``model``, from the Hub's search, ranked here by similarity."""
        name = model.split("/")[-1]
        terms = [name]
        parts = name.replace("_", "-").split("-")
        # A typo late in the name hides the repo from a substring search: retry with shorter prefixes.
        for cut in range(len(parts) - 1, 0, -1):
            prefix = "-".join(parts[:cut])
            if len(prefix) >= 3:
                terms.append(prefix)
        candidates: set[str] = set()
        for term in terms[:3]:
            if deadline.remaining() < MIN_SEARCH_BUDGET_S:
                break
            try:
                response = get_session().get(
                    f"{self.endpoint}/api/models",
                    params={"search": term, "limit": 50},
                    headers=self._api._build_hf_headers(),
                    timeout=min(deadline.remaining(), 3.0),
                )
                hf_raise_for_status(response)
                candidates.update(item["id"] for item in response.json() if isinstance(item, dict))
            except (httpx2.HTTPError, HfHubHTTPError, OfflineModeIsEnabled, ValueError, KeyError):
                break  # suggestions are a courtesy: never turn them into the error
            if candidates:
                break
        return rank_suggestions(model, candidates, limit)

    # -- pieces ------------------------------------------------------------------------------

    def _get(self, repo: str, sha: str, filename: str, deadline: Deadline, byte_range: str | None = None):
        url = hf_hub_url(repo_id=repo, filename=filename, revision=sha, endpoint=self.endpoint)
        headers = self._api._build_hf_headers()
        if byte_range is not None:
            headers["range"] = byte_range
        response = get_session().get(url, headers=headers, timeout=deadline.timeout())
        hf_raise_for_status(response)
        return response

    def _get_json(self, repo: str, sha: str, filename: str, deadline: Deadline) -> Any:
        response = self._get(repo, sha, filename, deadline)
        return safejson.loads(response.content, what=f"{filename} of {repo}", max_bytes=local.MAX_CONFIG_BYTES)

    def _read_headers(self, repo: str, sha: str, files: list[str], deadline: Deadline) -> dict[str, TensorInfo] | None:
        if "model.safetensors.index.json" in files:
            index = self._get_json(repo, sha, "model.safetensors.index.json", deadline)
            weight_map = index.get("weight_map") if isinstance(index, dict) else None
            shards = sorted({str(v) for v in weight_map.values()}) if isinstance(weight_map, dict) else []
        elif "model.safetensors" in files:
            shards = ["model.safetensors"]
        else:
            return None
        if not shards:
            raise ConfigError(f"model.safetensors.index.json of {repo} lists no shards: vram cannot read it")

        def parse(shard: str) -> dict[str, TensorInfo]:
            meta = self._api.parse_safetensors_file_metadata(repo, shard, revision=sha, timeout=deadline.timeout())
            return {
                name: TensorInfo(dtype=t.dtype, shape=tuple(t.shape), nbytes=t.data_offsets[1] - t.data_offsets[0])
                for name, t in meta.tensors.items()
            }

        tensors: dict[str, TensorInfo] = {}
        for part in _parallel(parse, shards, MAX_HEADER_WORKERS):
            tensors.update(part)
        return tensors

    def _read_gguf(
        self, repo: str, sha: str, gguf_files: list[str], hub_gguf: dict | None, deadline: Deadline
    ) -> GgufInfo:
        sizes = self._file_sizes(repo, sha, gguf_files, deadline)
        chosen = gguf.pick_gguf(gguf_files)

        def read(offset: int, size: int) -> bytes:
            response = self._get(repo, sha, chosen, deadline, byte_range=f"bytes={offset}-{offset + size - 1}")
            return response.content

        parameters = hub_gguf.get("total") if isinstance(hub_gguf, dict) else None
        return gguf.parse_gguf(
            read,
            filename=chosen,
            file_bytes=gguf.gguf_variant_bytes(chosen, sizes),
            files=sizes,
            parameters=parameters if isinstance(parameters, int) else None,
            source=f"{repo}/{chosen}",
            limit_bytes=GGUF_HEADER_BYTES,
        )

    def _file_sizes(self, repo: str, sha: str, paths: list[str], deadline: Deadline) -> dict[str, int]:
        """Sizes of some files at a commit, in one paths-info request."""
        response = get_session().post(
            f"{self.endpoint}/api/models/{repo}/paths-info/{sha}",
            data={"paths": paths, "expand": False},
            headers=self._api._build_hf_headers(),
            timeout=deadline.timeout(),
        )
        hf_raise_for_status(response)
        items = response.json()
        return {
            str(item["path"]): int(item["size"])
            for item in (items if isinstance(items, list) else [])
            if isinstance(item, dict) and item.get("type") == "file" and "size" in item
        }

    # -- errors ------------------------------------------------------------------------------

    @contextmanager
    def _translate(self, model: str, revision: str | None, deadline: Deadline) -> Iterator[None]:
        """Turn every Hub and transport failure into an error of ours, with its one sentence."""
        # The library falls back on HF_TOKEN or the saved login when no token is given.
        token_set = bool(self._token or get_token())
        try:
            yield
        except GatedRepoError as err:  # before RepositoryNotFoundError: it is a subclass
            if token_set and err.response.status_code == 403:
                raise GatedError(
                    f"{model} is gated and your HF_TOKEN has no access yet: accept its licence on the Hub "
                    "with that account (and wait for approval if the authors review requests)"
                ) from None
            raise GatedError(
                f"{model} is gated: accept its licence on the Hub and set HF_TOKEN where vram runs"
            ) from None
        except RepositoryNotFoundError:
            raise NotFoundError(self._not_found_sentence(model, token_set, deadline)) from None
        except RevisionNotFoundError:
            raise NotFoundError(
                f'{model} has no revision "{revision}": use a branch, tag or commit that exists '
                "(leave out @... for main)"
            ) from None
        except RemoteEntryNotFoundError as err:
            missing = str(err.response.url).rsplit("/", 1)[-1]
            raise NotFoundError(f"{model} has no file {missing} at this revision: vram cannot size it") from None
        except DisabledRepoError:
            raise NotFoundError(f"{model} has been disabled on the Hub: pick another model") from None
        except HfHubHTTPError as err:
            raise self._http_error(model, err) from None
        except OfflineModeIsEnabled:
            raise HubUnavailableError(offline_sentence(model)) from None
        except httpx2.TimeoutException:
            raise HubUnavailableError(deadline.expired_sentence()) from None
        except httpx2.TransportError:
            raise HubUnavailableError(
                f"cannot reach the Hugging Face Hub at {self.endpoint}: check the network "
                "(and HF_ENDPOINT if you set it), then try again"
            ) from None
        except RecursionError:
            # huggingface_hub decodes model_info and safetensors headers itself: a hostile file nested
            # past the interpreter's limit ends here.
            raise ResolveError(f"an answer of the Hub for {model} nests too deeply: vram cannot read it") from None
        except SafetensorsParsingError:
            raise ResolveError(
                f"a safetensors header of {model} could not be read: the checkpoint looks damaged"
            ) from None
        except (httpx2.HTTPError, ValueError, KeyError, TypeError) as err:
            # A malformed answer (bad JSON, an unexpected redirect): say so without the library's text.
            raise HubUnavailableError(
                f"the Hugging Face Hub gave an answer vram cannot read for {model} "
                f"({type(err).__name__}): try again in a minute"
            ) from None

    def _http_error(self, model: str, err: HfHubHTTPError) -> Exception:
        status = err.response.status_code
        message = err.response.headers.get("X-Error-Message", "")
        if status == 401 and "Invalid credentials" in message:
            return ResolveError("the Hub rejected HF_TOKEN as invalid: set a valid token or unset HF_TOKEN")
        if status == 401 or status == 403:
            return ResolveError(
                f"the Hub denied access to {model}: set HF_TOKEN to a token of an account that can read it"
            )
        if status == 429:
            return HubUnavailableError("the Hugging Face Hub is rate-limiting requests: try again in a minute")
        if status >= 500:
            return HubUnavailableError(
                f"the Hugging Face Hub answered {status} (a server error) for {model}: try again in a minute"
            )
        return ResolveError(f"the Hugging Face Hub answered {status} for {model}: vram cannot size it")

    def _not_found_sentence(self, model: str, token_set: bool, deadline: Deadline) -> str:
        access = (
            "or HF_TOKEN cannot read it" if token_set else "or it is private: set HF_TOKEN to a token that can read it"
        )
        sentence = f"{model} is not a model on the Hugging Face Hub ({access})"
        suggestions = self.suggest(model, deadline)
        if suggestions:
            sentence += "; did you mean " + _or_list(suggestions) + "?"
        return sentence


def rank_suggestions(model: str, candidates: set[str] | list[str], limit: int = 3) -> list[str]:
    """The candidates most similar to ``model`` (case-insensitive), best first."""
    target = model.lower()
    target_name = target.split("/")[-1]

    def score(candidate: str) -> float:
        low = candidate.lower()
        whole = difflib.SequenceMatcher(None, target, low).ratio()
        name = difflib.SequenceMatcher(None, target_name, low.split("/")[-1]).ratio()
        return max(whole, name)

    scored = sorted(((score(c), c) for c in set(candidates)), key=lambda sc: (-sc[0], sc[1]))
    return [c for s, c in scored if s >= 0.6][:limit]


def _or_list(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


def _quantized(config: dict[str, Any]) -> bool:
    if "quantization_config" in config:
        return True
    return any(
        isinstance(sub, dict) and "quantization_config" in sub
        for sub in (config.get("text_config"), config.get("language_config"), config.get("llm_config"))
    )


def _needs_headers(config: Any, counts: dict[str, int] | None, files: list[str]) -> bool:
    """Whether the Hub's element counts by dtype fall short of describing the weights."""
    has_safetensors = "model.safetensors" in files or "model.safetensors.index.json" in files
    if not has_safetensors:
        return False
    if counts is None:
        return True  # the Hub has not indexed them
    if isinstance(config, dict) and _quantized(config):
        return True  # packed int4/fp4 elements, scales and zero points: counts are not parameters
    if isinstance(config, dict) and set(config.get("architectures") or ()) & set(DRAFT_ARCHITECTURES):
        return True  # a drafter: whether it ships its own embedding and LM head is in the tensor names
    return any(dtype not in FLOAT_DTYPES for dtype in counts)


Tensors = dict[str, TensorInfo]


def _parallel(fn: Callable[[str], Tensors], items: list[str], workers: int) -> list[Tensors]:
    """``[fn(item) for item in items]`` on up to ``workers`` threads; the first failure is raised.

    Plain daemon threads rather than a ThreadPoolExecutor: an executor refuses new work once the
    interpreter has begun to shut down ("cannot schedule new futures after interpreter shutdown"),
    which is exactly when a server finishes the answers still in flight.
    """
    if len(items) <= 1:
        return [fn(item) for item in items]
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for index in range(len(items)):
        todo.put(index)
    results: list[Tensors | None] = [None] * len(items)
    errors: list[BaseException] = []

    def work() -> None:
        while not errors:
            try:
                index = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[index] = fn(items[index])
            except BaseException as err:  # handed to the calling thread below
                errors.append(err)

    threads = [threading.Thread(target=work, name="vram-headers", daemon=True) for _ in range(min(workers, len(items)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()  # each request has its own timeout from the Deadline, so this ends
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]
