"""The content of an answer, front-end neutral: the terminal table and Slack's blocks render this.

Pure functions of an :class:`~estimator.result.Estimate`. Bytes become GiB here and only here.
"""

from __future__ import annotations

from estimator.result import Estimate
from estimator.spec import Frozen

GIB = 1024**3
KIB = 1024
BAR_WIDTH = 32
# One glyph per part, in the order of the breakdown, and one for what is left on the GPU.
BAR_GLYPHS = {"weights": "█", "kv_cache": "▓", "activations": "▒", "overhead": "░", "free": "·"}


class Row(Frozen):
    label: str
    bytes: int
    why: str


class Report(Frozen):
    header: str
    verdict: str
    bar: str
    bar_legend: str
    rows: tuple[Row, ...]
    total: int
    capacity: str | None  # "Max on this GPU: ..." when gpu= is given
    vllm: str | None  # "vLLM will hold about N tokens ..." when engine=vllm and gpu=
    warnings: tuple[str, ...]


def gib(n: int | float, digits: int = 1) -> str:
    """Bytes as GiB with a fixed number of decimals ("27.3")."""
    return f"{n / GIB:.{digits}f}"


def human_bytes(n: int) -> str:
    """Bytes in the largest binary unit that keeps a readable number ("200 KiB", "1.5 MiB")."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(value) < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit in ("B", "KiB") or value >= 100 else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def short_count(n: int) -> str:
    """Parameter or token counts: 14.66B, 233k, 512."""
    if n >= 10**9:
        return f"{n / 1e9:.2f}B"
    if n >= 10**6:
        return f"{n / 1e6:.1f}M"
    if n >= 10**4:
        return f"{n / 1e3:.0f}k"
    return f"{n:,}"


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def header(est: Estimate) -> str:
    q = est.query
    parts = [est.model + (f" @ {est.revision[:7]}" if est.revision else ""), est.details.weight_format,
             f"s={q.seq_len:,}", f"b={q.batch:,}", "fused attention" if q.flash_attention else "eager attention"]
    if q.kv == "off":
        parts.append("no KV cache")
    elif est.details.kv_dtype and est.details.kv_dtype != est.details.weight_format:
        parts.append(f"KV {est.details.kv_dtype}")
    if q.gpus > 1:
        parts.append(f"{q.gpus} GPUs (tensor parallel)")
    parts.append(q.engine)
    return " · ".join(parts)


def verdict(est: Estimate) -> str:
    total = f"Total {gib(est.memory.total)} GiB" + (" per GPU" if est.query.gpus > 1 else "")
    fit = est.fit
    if fit is None:
        return f"{total}. Add gpu= (e.g. gpu=h100) to see whether it fits."
    where = "one" if est.query.gpus == 1 else f"each of {est.query.gpus}"
    if fit.fits:
        return f"{total}: fits {where} {fit.gpu_name} with {gib(fit.headroom)} GiB to spare"
    need = f"; it needs {fit.min_gpus} of them" if fit.min_gpus else "; no tensor-parallel group up to 1024 fits"
    return f"{total}: does not fit {where} {fit.gpu_name}, {gib(-fit.headroom)} GiB short{need}"


def bar(est: Estimate, width: int = BAR_WIDTH) -> tuple[str, str]:
    """A bar of the split (scaled to the GPU when gpu= is given) and its legend."""
    m = est.memory
    parts = {"weights": m.weights, "kv_cache": m.kv_cache, "activations": m.activations, "overhead": m.overhead}
    scale = max(est.fit.gpu_memory if est.fit else m.total, m.total, 1)
    cells = ""
    for name, value in parts.items():
        cells += BAR_GLYPHS[name] * round(width * value / scale)
    cells = cells[:width]
    if est.fit:
        cells += BAR_GLYPHS["free"] * (width - len(cells))
    legend = (f"weights {gib(m.weights)} | KV {gib(m.kv_cache)} | activations {gib(m.activations)} | "
              f"overhead {gib(m.overhead)} GiB")
    return f"[{cells}]", legend


def rows(est: Estimate) -> tuple[Row, ...]:
    q, m, d = est.query, est.memory, est.details
    params = f"{short_count(est.params_total)} parameters in {d.weight_format}"
    if est.params_active is not None:
        params += f" ({short_count(est.params_active)} active per token)"
    if q.gpus > 1:
        params += f", split over {q.gpus} GPUs"
    if q.kv == "off" or not d.kv_dtype:
        kv_why = "off (kv=off)"
    else:
        kv_why = (f"{human_bytes(d.kv_bytes_per_token)} per token x {_plural(q.seq_len, 'token')} x "
                  f"{_plural(q.batch, 'sequence')}")
        if m.kv_cache < d.kv_bytes_per_token * q.seq_len * q.batch:
            kv_why += " (sliding-window layers keep only their window)"
        elif m.kv_cache > d.kv_bytes_per_token * q.seq_len * q.batch:
            kv_why += " + fixed state per sequence"
    attention = "fused attention" if q.flash_attention else "eager attention (s² scores)"
    overhead_why = ("CUDA context, non-torch memory and CUDA graphs" if q.engine == "vllm"
                    else "CUDA context and allocator")
    return (
        Row(label="Weights", bytes=m.weights, why=params),
        Row(label="KV cache", bytes=m.kv_cache, why=kv_why),
        Row(label="Activations", bytes=m.activations, why=f"{d.activation_peak_where}, {attention}"),
        Row(label="Overhead", bytes=m.overhead, why=overhead_why),
    )


def capacity(est: Estimate) -> str | None:
    fit = est.fit
    if fit is None:
        return None
    q = est.query
    seq = (f"{short_count(fit.max_seq_len)} tokens at b={q.batch:,}" if fit.max_seq_len
           else f"not one token at b={q.batch:,}")
    batch = f"b={fit.max_batch:,} at s={q.seq_len:,}" if fit.max_batch else f"no batch at s={q.seq_len:,}"
    where = "this GPU" if q.gpus == 1 else f"{q.gpus} of these GPUs"
    return f"Max on {where}: {seq}, or {batch}"


def vllm_line(est: Estimate) -> str | None:
    v = est.vllm
    if v is None:
        return None
    if v.kv_cache_memory <= 0:
        return (f"vLLM {v.version} would not start at util={est.query.util}: weights and activations leave "
                "no room for the KV cache")
    return (f"vLLM {v.version} will hold about {v.kv_cache_tokens:,} tokens of KV cache "
            f"({gib(v.kv_cache_memory, 2)} GiB): {v.max_concurrency:.1f} requests of {est.query.seq_len:,} "
            "tokens at once")


def build(est: Estimate) -> Report:
    """Everything a reader wants, in the order they want it."""
    bar_text, legend = bar(est)
    return Report(header=header(est), verdict=verdict(est), bar=bar_text, bar_legend=legend, rows=rows(est),
                  total=est.memory.total, capacity=capacity(est), vllm=vllm_line(est),
                  warnings=est.warnings)


def changes_line(changes: dict[str, str], base: Estimate | None, new: Estimate) -> str:
    """What a thread what-if changed and what that did to the total."""
    what = ", ".join(f"{k}={v}" for k, v in changes.items())
    if base is None:
        return f"Changed {what}."
    delta = new.memory.total - base.memory.total
    sign = "+" if delta >= 0 else "−"
    return (f"Changed {what}: total {gib(base.memory.total)} → {gib(new.memory.total)} GiB "
            f"({sign}{gib(abs(delta))} GiB)")


NEXT_STEP = "Reply in this thread to change one thing: s=32k · b=8 · gpu=a100-40gb · kv=fp8 · engine=vllm"
