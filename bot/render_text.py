"""Terminal rendering (rich) of replies: the estimate table, GPUs, history, compare, help."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bot import report
from bot.echo import neutral
from estimator.classic import classic_lines
from estimator.gpus import GPU
from estimator.result import Estimate
from store.records import QueryRecord

HELP = """\
vram: GPU memory for LLM inference (weights, KV cache, activations, overhead) and whether it fits.

  vram <model>[@revision] [key=value ...] [--json]
      <model> is a Hub repo id (microsoft/phi-4), a config.json or a model folder.

  keys (aliases)              values                                   default
  s (seq, ctx, context)       tokens per sequence; 32k = 32768          4096
  b (batch)                   concurrent sequences                      1
  p (bits)                    2 3 4 5 6 8 16 32                          from the checkpoint
  dtype (q, quant)            bf16 fp16 fp32 fp8 int8 int4 nf4 mxfp4 awq gptq
  kv                          on off auto bf16 fp16 fp8 int8            on (the model's dtype)
  fa (flash)                  on off                                    on
  n (params)                  parameter count override, billions        from the checkpoint
  gpu                         see `vram gpus` (h100, a100-40gb, l4, rtx4090, ...)
  gpus (tp)                   tensor-parallel GPUs                      1
  engine                      transformers vllm                         transformers
  util                        vLLM gpu_memory_utilization               0.9
  mnbt (max_num_batched_tokens)  vLLM prefill chunk budget              vLLM's default
  seqs (max_num_seqs)         vLLM max concurrent sequences             vLLM's default
  method                      calibrated classic                        calibrated

  vram gpus                   the GPU catalog
  vram history [model] [--limit N] [--json]
  vram show <id> [--json]
  vram compare <model> <model> [key=value ...]
  vram serve                  run the Slack app
  vram db upgrade             apply database migrations

Examples:
  vram microsoft/phi-4 s=16k gpu=h100
  vram Qwen/Qwen3-30B-A3B s=32k b=8 engine=vllm gpu=h100 gpus=2
  vram meta-llama/Llama-3.1-8B dtype=nf4 kv=fp8 gpu=rtx4090
"""


def help_text() -> str:
    return HELP


def _gib2(n_bytes: int) -> str:
    return f"{n_bytes / report.GIB:.2f}"


def print_estimate(est: Estimate, console: Console) -> None:
    """The breakdown table, verdict, bar, capacity and warnings."""
    # One line each, never wrapped: the header is what people paste into a ticket.
    console.print(Text(report.header(est), style="bold"), soft_wrap=True)
    console.print(Text(report.verdict(est)), soft_wrap=True)
    console.print(Text(f"{report.bar(est)} {report.bar_legend(est)}"), soft_wrap=True)
    per_gpu = " per GPU" if est.query.gpus > 1 else ""
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("")
    table.add_column(f"GiB{per_gpu}", justify="right")
    table.add_column("bytes", justify="right")
    table.add_column("how")
    for label, n_bytes, why in report.breakdown(est):
        style = "bold" if label == "Total" else ""
        table.add_row(Text(label, style=style), Text(_gib2(n_bytes), style=style), f"{n_bytes:,}",
                      "" if label == "Total" else why)
    console.print(table)
    for line in (report.max_line(est), report.vllm_line(est)):
        if line:
            console.print(Text(line), soft_wrap=True)
    for warning in est.warnings:
        console.print(Text(f"! {warning}", style="yellow"))


def classic_text(est: Estimate) -> list[str]:
    """``method=classic``: the six lines of the original calculator."""
    gqa = est.classic.gqa_gb is not None
    return classic_lines(est.classic, gqa=gqa)


def gpus_table(gpus: Sequence[GPU]) -> Table:
    table = Table(show_header=True, header_style="bold", box=None)
    for column in ("gpu=", "name", "GiB (as CUDA/ROCm report)", "bytes", "also"):
        table.add_column(column, justify="right" if column.startswith(("GiB", "bytes")) else "left")
    for gpu in gpus:
        table.add_row(gpu.key, gpu.name, _gib2(gpu.memory_bytes), f"{gpu.memory_bytes:,}",
                      ", ".join(gpu.aliases[:4]))
    return table


def history_json(records: Sequence[QueryRecord]) -> list[dict[str, Any]]:
    """``history --json``: newest first, the fields interface.md promises and a few more."""
    items = []
    for rec in records:
        total = None
        if rec.result and rec.status == "ok":
            memory = rec.result.get("memory") or {}
            total = sum(int(memory.get(k, 0)) for k in ("weights", "kv_cache", "activations", "overhead"))
        items.append({
            "id": rec.id, "created_at": rec.created_at.isoformat(), "model": rec.model_label,
            "revision": rec.revision, "text": rec.text, "status": rec.status, "error": rec.error,
            "total": total, "parent_id": rec.parent_id, "source": rec.conversation.platform,
        })
    return items


def history_table(records: Sequence[QueryRecord]) -> Table | Text:
    if not records:
        return Text("No queries kept yet.")
    table = Table(show_header=True, header_style="bold", box=None)
    for column in ("id", "when (UTC)", "model", "total GiB", "text"):
        table.add_column(column, justify="right" if column in ("id", "total GiB") else "left")
    for item in history_json(records):
        total = f"{item['total'] / report.GIB:.1f}" if item["total"] is not None else f"error: {item['error']}"
        table.add_row(str(item["id"]), item["created_at"][:16].replace("T", " "), neutral(item["model"] or ""),
                      neutral(total), neutral(item["text"]))
    return table


def compare_table(a: Estimate, b: Estimate) -> Table:
    table = Table(show_header=True, header_style="bold", box=None)
    table.add_column("")
    table.add_column(a.model, justify="right")
    table.add_column(b.model, justify="right")
    for (label, x, _), (_, y, _) in zip(report.breakdown(a), report.breakdown(b), strict=True):
        table.add_row(f"{label} GiB", _gib2(x), _gib2(y))
    table.add_row("Parameters", report.params(a.params_total), report.params(b.params_total))
    table.add_row("KV per token", report.per_token(a.details.kv_bytes_per_token),
                  report.per_token(b.details.kv_bytes_per_token))
    if a.fit and b.fit:
        table.add_row("Fits " + a.fit.gpu_name, "yes" if a.fit.fits else "no", "yes" if b.fit.fits else "no")
    return table


def compare_warnings(a: Estimate, b: Estimate) -> list[str]:
    """Each side's warnings, named (the classic-formula note left out: the table is the comparison)."""
    lines = []
    for est in (a, b):
        for warning in est.warnings:
            if not warning.startswith("The classic formula says"):
                lines.append(f"! {est.model}: {warning}")
    return lines

