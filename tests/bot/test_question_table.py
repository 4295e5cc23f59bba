"""Questions as people ask them, and the settings each must read as (written by hand, one by one).

The phrasings follow questions asked in public issues and discussions about whether a model fits
some GPUs, for example:
- https://github.com/SakanaAI/AI-Scientist/issues/31 ("Can it run on RTX 4090 by adjusting ... batch size?")
- https://github.com/AEON-7/Qwen3.6-27B-AEON-Ultimate-Uncensored-DFlash/issues/1 ("Dual RTX 4090 ... can it boot up")
- https://github.com/vllm-project/vllm/issues/6689 ("what is good choice for max-model-len for 4*H100?", "L4:1")
- https://github.com/vllm-project/vllm/issues/17327 ("Qwen/Qwen3-30B-A3B, A10*4 ... max-model-len to 1024")
- https://github.com/vllm-project/vllm/issues/3872 ("24G 4090 ... max-model-len=4000", Qwen1.5-32B-Chat-AWQ)
- https://github.com/meta-llama/llama/issues/101 ("the largest possible model on a single A100 80Gb")
- https://github.com/lyogavin/airllm/issues/96 ("70B on 24GB 4090?")
- https://github.com/vllm-project/vllm-ascend/issues/5153 (how long a context qwen3-next-80B reaches)
- https://nelsahost.com/compatibility/can-i-run-llama-3-8b-on-a100-40gb-int8

Each row: the sentence, the model (a Hub id) or the name to look up, the settings in grammar form,
the question kind, and the words it must list as unused.
"""

from __future__ import annotations

import pytest

from bot.commands import parse
from bot.question import read_question
from common.errors import InputError

FIT, CTX, BATCH, GPUS, WHICH = "fit", "max_context", "max_batch", "min_gpus", "which_gpu"

# (sentence, model id or name, settings, kind, unused words)
READS: list[tuple[str, str, str, str, tuple[str, ...]]] = [
    # -- the issue's own examples
    ("can Qwen3-32B run 64k context for 8 users on two L40S?", "Qwen3-32B", "s=64k b=8 gpu=l40s gpus=2", FIT, ()),
    ("will llama 3.3 70b fit on 4xA100 40GB in fp8?", "llama 3.3 70b", "dtype=fp8 gpu=a100-40gb gpus=4", FIT, ()),
    ("does gpt-oss-120b fit one H100 with vllm?", "gpt-oss-120b", "gpu=h100-80gb gpus=1 engine=vllm", FIT, ()),
    ("can Qwen/Qwen3-8B run 32k for 4 users on an L4?", "Qwen/Qwen3-8B", "s=32k b=4 gpu=l4", FIT, ()),
    ("@vram can Qwen3-32B run 64k context for 8 users on two L40S?", "Qwen3-32B", "s=64k b=8 gpu=l40s gpus=2", FIT, ()),
    (
        "<@U012ABCDEF> will llama 3.3 70b fit on 4xA100 40GB in fp8?",
        "llama 3.3 70b",
        "dtype=fp8 gpu=a100-40gb gpus=4",
        FIT,
        (),
    ),
    # -- a card named by its number before the noun that would make the number a count
    ("can Qwen/Qwen3-8B run on 2 4090 gpus", "Qwen/Qwen3-8B", "gpu=rtx-4090 gpus=2", FIT, ()),
    ("can Qwen/Qwen3-8B run on two 3090 cards", "Qwen/Qwen3-8B", "gpu=rtx-3090 gpus=2", FIT, ()),
    ("can Qwen/Qwen3-8B run on a 4090 gpu", "Qwen/Qwen3-8B", "gpu=rtx-4090", FIT, ()),
    ("can Qwen/Qwen3-8B run on 128 gpus", "Qwen/Qwen3-8B", "gpus=128", FIT, ()),
    # -- a model of a GPU maker's, named with the maker's name
    ("will nvidia nemotron nano 9b fit on an h100", "nvidia nemotron nano 9b", "gpu=h100-80gb", FIT, ()),
    # -- context forms
    ("Qwen/Qwen3-8B with 64k context on an H100", "Qwen/Qwen3-8B", "s=64k gpu=h100-80gb", FIT, ()),
    ("can Qwen/Qwen3-8B do 128k tokens on an H200?", "Qwen/Qwen3-8B", "s=128k gpu=h200", FIT, ()),
    ("Qwen/Qwen3-8B with a context of 32,768 on an A100", "Qwen/Qwen3-8B", "s=32k gpu=a100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B with a context of 32768 tokens", "Qwen/Qwen3-8B", "s=32k", FIT, ()),
    ("Qwen/Qwen3-8B at 8192 tokens on a T4", "Qwen/Qwen3-8B", "s=8k gpu=t4", FIT, ()),
    ("Qwen/Qwen3-8B 16k ctx on an L4", "Qwen/Qwen3-8B", "s=16k gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B context length 40960 on an L40S", "Qwen/Qwen3-8B", "s=40k gpu=l40s", FIT, ()),
    ("Qwen/Qwen3-8B with a 32K context window on an L4", "Qwen/Qwen3-8B", "s=32k gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B at a sequence length of 4096", "Qwen/Qwen3-8B", "s=4k", FIT, ()),
    ("Qwen/Qwen3-8B with 1M context on 8 H200", "Qwen/Qwen3-8B", "s=1m gpu=h200 gpus=8", FIT, ()),
    ("Qwen/Qwen3-8B with a 64k-token context on a 5090", "Qwen/Qwen3-8B", "s=64k gpu=rtx-5090", FIT, ()),
    ("Qwen/Qwen3-8B 2000 tokens on a 3060", "Qwen/Qwen3-8B", "s=2000 gpu=rtx-3060-12gb", FIT, ()),
    ("Qwen/Qwen3-8B with context length of 10,000 on an A10G", "Qwen/Qwen3-8B", "s=10000 gpu=a10g", FIT, ()),
    ("Qwen/Qwen3-8B at 32k on an L4", "Qwen/Qwen3-8B", "s=32k gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B seq len 2048 batch size 32 on a V100", "Qwen/Qwen3-8B", "s=2k b=32 gpu=v100-16gb", FIT, ()),
    ("Qwen/Qwen3-8B 100k context", "Qwen/Qwen3-8B", "s=100k", FIT, ()),
    ("Qwen/Qwen3-8B with 1.5k tokens", "Qwen/Qwen3-8B", "s=1536", FIT, ()),
    ("Qwen/Qwen3-8B with max model len 16384 on an L4", "Qwen/Qwen3-8B", "s=16k gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B --max-model-len 4000 on a 4090", "Qwen/Qwen3-8B", "s=4000 gpu=rtx-4090", FIT, ()),
    # -- batch forms
    ("Qwen/Qwen3-8B for 8 users on an L40S", "Qwen/Qwen3-8B", "b=8 gpu=l40s", FIT, ()),
    ("Qwen/Qwen3-8B batch of 16 at 4k", "Qwen/Qwen3-8B", "s=4k b=16", FIT, ()),
    ("Qwen/Qwen3-8B with 16 concurrent requests on an H100", "Qwen/Qwen3-8B", "b=16 gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B for 100 sequences of 2k tokens", "Qwen/Qwen3-8B", "s=2k b=100", FIT, ()),
    ("Qwen/Qwen3-8B batch size 64 on 2 H100s", "Qwen/Qwen3-8B", "b=64 gpu=h100-80gb gpus=2", FIT, ()),
    ("Qwen/Qwen3-8B serving 50 concurrent users at 8k", "Qwen/Qwen3-8B", "s=8k b=50", FIT, ()),
    ("Qwen/Qwen3-8B for a single user at 128k on an H100", "Qwen/Qwen3-8B", "s=128k b=1 gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B with 32 parallel requests", "Qwen/Qwen3-8B", "b=32", FIT, ()),
    ("Qwen/Qwen3-8B with 4 simultaneous sessions", "Qwen/Qwen3-8B", "b=4", FIT, ()),
    ("Qwen/Qwen3-8B with concurrency of 20", "Qwen/Qwen3-8B", "b=20", FIT, ()),
    ("Qwen/Qwen3-8B for two users on a 4090", "Qwen/Qwen3-8B", "b=2 gpu=rtx-4090", FIT, ()),
    ("Qwen/Qwen3-8B 10 requests at once on an L4", "Qwen/Qwen3-8B", "b=10 gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B with 256 prompts in parallel on 8 x H100", "Qwen/Qwen3-8B", "b=256 gpu=h100-80gb gpus=8", FIT, ()),
    ("Qwen/Qwen3-8B bs 8", "Qwen/Qwen3-8B", "b=8", FIT, ()),
    ("Qwen/Qwen3-8B for up to 12 chats", "Qwen/Qwen3-8B", "b=12", FIT, ()),
    ("Qwen/Qwen3-8B with --max-num-seqs 2", "Qwen/Qwen3-8B", "engine=vllm seqs=2", FIT, ()),
    # -- hardware
    ("Qwen/Qwen3-8B on an H100", "Qwen/Qwen3-8B", "gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B on two L40S", "Qwen/Qwen3-8B", "gpu=l40s gpus=2", FIT, ()),
    ("Qwen/Qwen3-8B on 4xA100 40GB", "Qwen/Qwen3-8B", "gpu=a100-40gb gpus=4", FIT, ()),
    ("Qwen/Qwen3-8B on 8 x H200", "Qwen/Qwen3-8B", "gpu=h200 gpus=8", FIT, ()),
    ("does Qwen/Qwen3-8B fit a 4090?", "Qwen/Qwen3-8B", "gpu=rtx-4090", FIT, ()),
    ("Qwen/Qwen3-8B on one B200", "Qwen/Qwen3-8B", "gpu=b200 gpus=1", FIT, ()),
    ("Qwen/Qwen3-8B on an 80GB A100", "Qwen/Qwen3-8B", "gpu=a100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B on a 40GB A100", "Qwen/Qwen3-8B", "gpu=a100-40gb", FIT, ()),
    ("Qwen/Qwen3-8B with 2 GPUs", "Qwen/Qwen3-8B", "gpus=2", FIT, ()),
    ("Qwen/Qwen3-8B on 8×H100", "Qwen/Qwen3-8B", "gpu=h100-80gb gpus=8", FIT, ()),
    ("Qwen/Qwen3-8B on 2x RTX 3090", "Qwen/Qwen3-8B", "gpu=rtx-3090 gpus=2", FIT, ()),
    ("Qwen/Qwen3-8B on dual 4090s", "Qwen/Qwen3-8B", "gpu=rtx-4090 gpus=2", FIT, ()),
    ("Qwen/Qwen3-8B on a single RTX 4090 24GB", "Qwen/Qwen3-8B", "gpu=rtx-4090 gpus=1", FIT, ()),
    ("Qwen/Qwen3-8B on an NVIDIA L4", "Qwen/Qwen3-8B", "gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B on a Tesla T4", "Qwen/Qwen3-8B", "gpu=t4", FIT, ()),
    ("Qwen/Qwen3-8B on an H100 PCIe", "Qwen/Qwen3-8B", "gpu=h100-pcie", FIT, ()),
    ("Qwen/Qwen3-8B on an H100 NVL", "Qwen/Qwen3-8B", "gpu=h100-nvl", FIT, ()),
    ("Qwen/Qwen3-8B on an A100 80GB PCIe", "Qwen/Qwen3-8B", "gpu=a100-80gb-pcie", FIT, ()),
    ("Qwen/Qwen3-8B on an RTX A6000", "Qwen/Qwen3-8B", "gpu=rtx-a6000", FIT, ()),
    ("Qwen/Qwen3-8B on an RTX 6000 Ada", "Qwen/Qwen3-8B", "gpu=rtx-6000-ada", FIT, ()),
    ("Qwen/Qwen3-8B on an RTX Pro 6000", "Qwen/Qwen3-8B", "gpu=rtx-pro-6000", FIT, ()),
    ("Qwen/Qwen3-8B on an MI300X", "Qwen/Qwen3-8B", "gpu=mi300x", FIT, ()),
    ("Qwen/Qwen3-8B on 8 AMD MI325X", "Qwen/Qwen3-8B", "gpu=mi325x gpus=8", FIT, ()),
    ("Qwen/Qwen3-8B on a GH200", "Qwen/Qwen3-8B", "gpu=gh200", FIT, ()),
    ("Qwen/Qwen3-8B on four A10G", "Qwen/Qwen3-8B", "gpu=a10g gpus=4", FIT, ()),
    ("Qwen/Qwen3-8B on A10*4", "Qwen/Qwen3-8B", "gpu=a10 gpus=4", FIT, ()),
    ("Qwen/Qwen3-8B on L4:1", "Qwen/Qwen3-8B", "gpu=l4 gpus=1", FIT, ()),
    ("Qwen/Qwen3-8B on A100-80GB:8", "Qwen/Qwen3-8B", "gpu=a100-80gb gpus=8", FIT, ()),
    ("Qwen/Qwen3-8B on 4*H100", "Qwen/Qwen3-8B", "gpu=h100-80gb gpus=4", FIT, ()),
    ("Qwen/Qwen3-8B on a V100 32GB", "Qwen/Qwen3-8B", "gpu=v100-32gb", FIT, ()),
    ("Qwen/Qwen3-8B on a 16GB V100", "Qwen/Qwen3-8B", "gpu=v100-16gb", FIT, ()),
    ("Qwen/Qwen3-8B on my 3090", "Qwen/Qwen3-8B", "gpu=rtx-3090", FIT, ()),
    ("Qwen/Qwen3-8B on a 5090", "Qwen/Qwen3-8B", "gpu=rtx-5090", FIT, ()),
    ("Qwen/Qwen3-8B on an RTX 4080", "Qwen/Qwen3-8B", "gpu=rtx-4080", FIT, ()),
    ("Qwen/Qwen3-8B on an H20", "Qwen/Qwen3-8B", "gpu=h20", FIT, ()),
    ("Qwen/Qwen3-8B on 16 H100s", "Qwen/Qwen3-8B", "gpu=h100-80gb gpus=16", FIT, ()),
    ("Qwen/Qwen3-8B on an A5000", "Qwen/Qwen3-8B", "gpu=rtx-a5000", FIT, ()),
    ("Qwen/Qwen3-8B across 4 GPUs", "Qwen/Qwen3-8B", "gpus=4", FIT, ()),
    ("Qwen/Qwen3-8B with tensor parallel 2 on L40S", "Qwen/Qwen3-8B", "gpu=l40s gpus=2 engine=vllm", FIT, ()),
    ("Qwen/Qwen3-8B tp 4 on A100", "Qwen/Qwen3-8B", "gpu=a100-80gb gpus=4 engine=vllm", FIT, ()),
    ("Qwen/Qwen3-8B on an MI250X", "Qwen/Qwen3-8B", "gpu=mi250x", FIT, ()),
    ("Qwen/Qwen3-8B on a pair of 3090s", "Qwen/Qwen3-8B", "gpu=rtx-3090 gpus=2", FIT, ()),
    # -- formats, KV cache, attention, engines
    ("Qwen/Qwen3-8B in fp8 on an L4", "Qwen/Qwen3-8B", "dtype=fp8 gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B in 4-bit on a 3060", "Qwen/Qwen3-8B", "p=4 gpu=rtx-3060-12gb", FIT, ()),
    ("Qwen/Qwen3-8B awq on a T4", "Qwen/Qwen3-8B", "dtype=awq gpu=t4", FIT, ()),
    ("Qwen/Qwen3-8B with int8 kv", "Qwen/Qwen3-8B", "kv=int8", FIT, ()),
    ("Qwen/Qwen3-8B with fp8 kv cache at 128k", "Qwen/Qwen3-8B", "s=128k kv=fp8", FIT, ()),
    ("Qwen/Qwen3-8B with vllm on an L4", "Qwen/Qwen3-8B", "gpu=l4 engine=vllm", FIT, ()),
    ("Qwen/Qwen3-8B in transformers on an L4", "Qwen/Qwen3-8B", "gpu=l4 engine=transformers", FIT, ()),
    ("Qwen/Qwen3-8B flash attention off", "Qwen/Qwen3-8B", "fa=off", FIT, ()),
    ("Qwen/Qwen3-8B without flash attention at 8k", "Qwen/Qwen3-8B", "s=8k fa=off", FIT, ()),
    ("Qwen/Qwen3-8B with flash attention on", "Qwen/Qwen3-8B", "fa=on", FIT, ()),
    # "with X off" is off: the "with" alone does not turn it on.
    ("Qwen/Qwen3-8B with flash attention off at 8k", "Qwen/Qwen3-8B", "s=8k fa=off", FIT, ()),
    ("Qwen/Qwen3-8B with vllm with prefix caching off", "Qwen/Qwen3-8B", "engine=vllm prefix=off", FIT, ()),
    ("Qwen/Qwen3-8B with vllm without prefix caching at 32k", "Qwen/Qwen3-8B", "s=32k engine=vllm prefix=off", FIT, ()),
    ("Qwen/Qwen3-8B with vllm and APC on", "Qwen/Qwen3-8B", "engine=vllm prefix=on", FIT, ()),
    ("Qwen/Qwen3-8B in bf16", "Qwen/Qwen3-8B", "dtype=bf16", FIT, ()),
    ("Qwen/Qwen3-8B in fp16 on a V100", "Qwen/Qwen3-8B", "dtype=fp16 gpu=v100-16gb", FIT, ()),
    ("Qwen/Qwen3-8B in int8", "Qwen/Qwen3-8B", "dtype=int8", FIT, ()),
    ("Qwen/Qwen3-8B in int4 on a 4080", "Qwen/Qwen3-8B", "dtype=int4 gpu=rtx-4080", FIT, ()),
    ("Qwen/Qwen3-8B gptq on a T4", "Qwen/Qwen3-8B", "dtype=gptq gpu=t4", FIT, ()),
    ("Qwen/Qwen3-8B in 8-bit", "Qwen/Qwen3-8B", "p=8", FIT, ()),
    ("Qwen/Qwen3-8B 8bit on a T4", "Qwen/Qwen3-8B", "p=8 gpu=t4", FIT, ()),
    ("Qwen/Qwen3-8B with bitsandbytes 4-bit", "Qwen/Qwen3-8B", "dtype=nf4", FIT, ()),
    ("Qwen/Qwen3-8B in nf4 on a 3060", "Qwen/Qwen3-8B", "dtype=nf4 gpu=rtx-3060-12gb", FIT, ()),
    ("Qwen/Qwen3-8B in half precision", "Qwen/Qwen3-8B", "dtype=fp16", FIT, ()),
    ("Qwen/Qwen3-8B in full precision on an A100", "Qwen/Qwen3-8B", "dtype=fp32 gpu=a100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B with the full 40k context on an L4", "Qwen/Qwen3-8B", "s=40k gpu=l4", FIT, ("full",)),
    ("Qwen/Qwen3-8B with a bfloat16 kv cache", "Qwen/Qwen3-8B", "kv=bf16", FIT, ()),
    ("Qwen/Qwen3-8B with e4m3 kv", "Qwen/Qwen3-8B", "kv=fp8", FIT, ()),
    ("Qwen/Qwen3-8B in bfloat16 on an L40S", "Qwen/Qwen3-8B", "dtype=bf16 gpu=l40s", FIT, ()),
    ("Qwen/Qwen3-8B with the kv cache in fp8", "Qwen/Qwen3-8B", "kv=fp8", FIT, ()),
    ("Qwen/Qwen3-8B kv cache fp8 on an L4 with vllm", "Qwen/Qwen3-8B", "kv=fp8 gpu=l4 engine=vllm", FIT, ()),
    ("Qwen/Qwen3-8B without kv cache", "Qwen/Qwen3-8B", "kv=off", FIT, ()),
    ("Qwen/Qwen3-8B using vLLM", "Qwen/Qwen3-8B", "engine=vllm", FIT, ()),
    ("Qwen/Qwen3-8B with hf transformers", "Qwen/Qwen3-8B", "engine=transformers", FIT, ()),
    ("Qwen/Qwen3-8B on vllm at 90% gpu memory utilization", "Qwen/Qwen3-8B", "engine=vllm util=0.9", FIT, ()),
    ("Qwen/Qwen3-8B with --gpu-memory-utilization 0.95 in vllm", "Qwen/Qwen3-8B", "engine=vllm util=0.95", FIT, ()),
    ("Qwen/Qwen3-8B with --max-num-batched-tokens 8192", "Qwen/Qwen3-8B", "engine=vllm mnbt=8k", FIT, ()),
    ("Qwen/Qwen3-8B mxfp4 on an H100", "Qwen/Qwen3-8B", "dtype=mxfp4 gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B fp8 weights and fp8 kv on an L40S", "Qwen/Qwen3-8B", "dtype=fp8 kv=fp8 gpu=l40s", FIT, ()),
    # -- question kinds
    ("will Qwen/Qwen3-8B fit on an L4?", "Qwen/Qwen3-8B", "gpu=l4", FIT, ()),
    ("can Qwen/Qwen3-8B run on a T4", "Qwen/Qwen3-8B", "gpu=t4", FIT, ()),
    ("does Qwen/Qwen3-8B fit on a 3090 at 32k", "Qwen/Qwen3-8B", "s=32k gpu=rtx-3090", FIT, ()),
    ("how much context can Qwen/Qwen3-8B take on an L4?", "Qwen/Qwen3-8B", "gpu=l4", CTX, ()),
    (
        "what's the max context for Qwen/Qwen3-8B on a 4090 with fp8 kv?",
        "Qwen/Qwen3-8B",
        "kv=fp8 gpu=rtx-4090",
        CTX,
        (),
    ),
    ("how long a context can Qwen/Qwen3-8B handle for 4 users on an A10G", "Qwen/Qwen3-8B", "b=4 gpu=a10g", CTX, ()),
    ("longest context for Qwen/Qwen3-8B on a T4", "Qwen/Qwen3-8B", "gpu=t4", CTX, ()),
    ("how many tokens can Qwen/Qwen3-8B hold on an L4", "Qwen/Qwen3-8B", "gpu=l4", CTX, ()),
    ("how many users can Qwen/Qwen3-8B serve at 32k on an L40S?", "Qwen/Qwen3-8B", "s=32k gpu=l40s", BATCH, ()),
    ("max batch for Qwen/Qwen3-8B at 8k on an A100", "Qwen/Qwen3-8B", "s=8k gpu=a100-80gb", BATCH, ()),
    (
        "how many concurrent requests can Qwen/Qwen3-8B handle on an H100 with vllm",
        "Qwen/Qwen3-8B",
        "gpu=h100-80gb engine=vllm",
        BATCH,
        (),
    ),
    ("maximum concurrency for Qwen/Qwen3-8B at 16k on two L4", "Qwen/Qwen3-8B", "s=16k gpu=l4 gpus=2", BATCH, ()),
    ("how many H100s do I need for Qwen/Qwen3-32B at 128k?", "Qwen/Qwen3-32B", "s=128k gpu=h100-80gb", GPUS, ()),
    ("how many A100 80GB for Qwen/Qwen3-32B in bf16", "Qwen/Qwen3-32B", "dtype=bf16 gpu=a100-80gb", GPUS, ()),
    ("minimum number of L40S for Qwen/Qwen3-32B at 32k", "Qwen/Qwen3-32B", "s=32k gpu=l40s", GPUS, ()),
    ("how many L4 GPUs would we need for Qwen/Qwen3-32B for 8 users", "Qwen/Qwen3-32B", "b=8 gpu=l4", GPUS, ()),
    (
        "how many users can Qwen/Qwen3-8B serve at 8k on 2 GPUs of type L4",
        "Qwen/Qwen3-8B",
        "s=8k gpu=l4 gpus=2",
        BATCH,
        (),
    ),
    (
        "what is good choice for max-model-len for Qwen/Qwen3-8B on 4*H100?",
        "Qwen/Qwen3-8B",
        "gpu=h100-80gb gpus=4",
        CTX,
        ("good", "choice"),
    ),
    # -- model names as people write them
    ("will qwen3 32b fit on an H100", "qwen3 32b", "gpu=h100-80gb", FIT, ()),
    ("can llama 3.3 70b instruct run on 2 H100s", "llama 3.3 70b instruct", "gpu=h100-80gb gpus=2", FIT, ()),
    ("gpt-oss-120b on one H100", "gpt-oss-120b", "gpu=h100-80gb gpus=1", FIT, ()),
    ("will mistral small 3.1 fit on an 80GB A100 with int8 kv", "mistral small 3.1", "kv=int8 gpu=a100-80gb", FIT, ()),
    ("can I run gemma 3 27b on a single rtx 4090 in 4 bit?", "gemma 3 27b", "p=4 gpu=rtx-4090 gpus=1", FIT, ()),
    ("qwen3-30b-a3b on 2 x rtx 3090", "qwen3-30b-a3b", "gpu=rtx-3090 gpus=2", FIT, ()),
    ("phi-4 for 100 sequences of 2k tokens on an l40s", "phi-4", "s=2k b=100 gpu=l40s", FIT, ()),
    ("how many H100s do I need for deepseek r1?", "deepseek r1", "gpu=h100-80gb", GPUS, ()),
    ("llama 3.1 8b on an A100 40GB in int8", "llama 3.1 8b", "dtype=int8 gpu=a100-40gb", FIT, ()),
    ("Can I run llama 3 8b on A100 40GB in INT8?", "llama 3 8b", "dtype=int8 gpu=a100-40gb", FIT, ()),
    ("qwen2.5 7b instruct with 32k context on a T4", "qwen2.5 7b instruct", "s=32k gpu=t4", FIT, ()),
    ("the qwen3 8b model on an L4 please", "qwen3 8b", "gpu=l4", FIT, ()),
    ("Qwen3-8B on a 4090 at 32k", "Qwen3-8B", "s=32k gpu=rtx-4090", FIT, ()),
    (
        "deepseek-r1-distill-qwen-32b on dual 4090 with awq",
        "deepseek-r1-distill-qwen-32b",
        "dtype=awq gpu=rtx-4090 gpus=2",
        FIT,
        (),
    ),
    (
        "Qwen1.5-32B-Chat-AWQ on a 24GB 4090 with max-model-len=4000",
        "Qwen1.5-32B-Chat-AWQ",
        "s=4000 gpu=rtx-4090",
        FIT,
        (),
    ),
    ("how long can the context of qwen3 next 80b be on 8 H100", "qwen3 next 80b", "gpu=h100-80gb gpus=8", CTX, ()),
    ("70B llama 3.3 on a 4090?", "70B llama 3.3", "gpu=rtx-4090", FIT, ()),
    ("mixtral 8x7b on 2 A100s", "mixtral 8x7b", "gpu=a100-80gb gpus=2", FIT, ()),
    ("llama 3.1 405b fp8 on 8 H100", "llama 3.1 405b", "dtype=fp8 gpu=h100-80gb gpus=8", FIT, ()),
    ("kimi k2 on 16 H200 in fp8", "kimi k2", "dtype=fp8 gpu=h200 gpus=16", FIT, ()),
    (
        "qwen3 235b a22b on 8 x H100 with vllm at 32k",
        "qwen3 235b a22b",
        "s=32k gpu=h100-80gb gpus=8 engine=vllm",
        FIT,
        (),
    ),
    ("qwen3 32b q4_k_m on a 4090", "qwen3 32b", "gpu=rtx-4090", FIT, ("q4_k_m",)),
    ("Is it possible to run Llama 3.1 70B on 2x RTX 4090?", "Llama 3.1 70B", "gpu=rtx-4090 gpus=2", FIT, ()),
    ("What GPU do I need for qwen2.5 72b instruct at 32k context?", "qwen2.5 72b instruct", "s=32k gpu=any", WHICH, ()),
    # Which card: every card in the catalog (gpu=any); one named is the fit on it.
    ("which GPU should I use for Qwen/Qwen3-8B for 8 users", "Qwen/Qwen3-8B", "b=8 gpu=any", WHICH, ()),
    ("what's the smallest card that can run Qwen/Qwen3-8B at 64k", "Qwen/Qwen3-8B", "s=64k gpu=any", WHICH, ()),
    ("what kind of hardware do I need for Qwen/Qwen3-32B?", "Qwen/Qwen3-32B", "gpu=any", WHICH, ()),
    (
        "what do we need to serve Qwen/Qwen3-32B at 32k with vllm",
        "Qwen/Qwen3-32B",
        "s=32k gpu=any engine=vllm",
        WHICH,
        (),
    ),
    ("which GPU for Qwen/Qwen3-8B, an L4?", "Qwen/Qwen3-8B", "gpu=l4", FIT, ()),
    ("what GPU memory does Qwen/Qwen3-8B need at 32k", "Qwen/Qwen3-8B", "s=32k", FIT, ()),
    ("how many GPUs do I need for qwen3 32b at 128k?", "qwen3 32b", "s=128k gpu=any", GPUS, ()),
    ("what is the minimum number of GPUs for Qwen/Qwen3-32B", "Qwen/Qwen3-32B", "gpu=any", GPUS, ()),
    # "on any GPU", "on a single GPU": no card named, so every card.
    ("will Qwen/Qwen3-8B fit on any GPU?", "Qwen/Qwen3-8B", "gpu=any", WHICH, ()),
    ("can Qwen/Qwen3-8B run on a single GPU at 32k?", "Qwen/Qwen3-8B", "s=32k gpu=any gpus=1", WHICH, ()),
    ("does Qwen/Qwen3-8B fit on any single card?", "Qwen/Qwen3-8B", "gpu=any gpus=1", WHICH, ()),
    ("will Qwen/Qwen3-8B run on any consumer GPU?", "Qwen/Qwen3-8B", "gpu=any", WHICH, ("consumer",)),
    # No card wanted ("without a GPU"): not every card either.
    ("can Qwen/Qwen3-8B run without a GPU?", "Qwen/Qwen3-8B", "", FIT, ("without a GPU",)),
    # "train" that is not training.
    (
        "can Qwen/Qwen3-8B run with a train of thought of 32k tokens?",
        "Qwen/Qwen3-8B",
        "s=32k",
        FIT,
        ("train", "thought"),
    ),
    # Memory, or a device map, is not a card.
    ("what's the minimum GPU memory needed for Qwen/Qwen3-8B?", "Qwen/Qwen3-8B", "", FIT, ()),
    ("what device map for Qwen/Qwen3-8B?", "Qwen/Qwen3-8B", "", FIT, ("device", "map")),
    ("can I fit deepseek v3 on 8 H200s in fp8?", "deepseek v3", "dtype=fp8 gpu=h200 gpus=8", FIT, ()),
    ("Will Mixtral 8x22B fit on 4 A100 80GB GPUs?", "Mixtral 8x22B", "gpu=a100-80gb gpus=4", FIT, ()),
    (
        "How much VRAM does Qwen/Qwen3-8B need for 32k context and 8 concurrent users?",
        "Qwen/Qwen3-8B",
        "s=32k b=8",
        FIT,
        (),
    ),
    (
        "llama-3.1-8b-instruct on a single T4 with 4k context, is that feasible?",
        "llama-3.1-8b-instruct",
        "s=4k gpu=t4 gpus=1",
        FIT,
        ("feasible",),
    ),
    ("Can I serve 100 users with qwen3 14b on one H100?", "qwen3 14b", "b=100 gpu=h100-80gb gpus=1", FIT, ()),
    (
        "Qwen3-Coder-480B-A35B-Instruct-FP8 with 256k on 8 H20",
        "Qwen3-Coder-480B-A35B-Instruct-FP8",
        "s=256k gpu=h20 gpus=8",
        FIT,
        (),
    ),
    ("gemma-3-12b-it on a 16GB card", "gemma-3-12b-it", "gpu=any", FIT, ()),
    (
        "would qwen 2.5 coder 32b run on 2 3090s at 32k with awq?",
        "qwen 2.5 coder 32b",
        "s=32k dtype=awq gpu=rtx-3090 gpus=2",
        FIT,
        (),
    ),
    ("Is an A6000 enough for llama 3 70b 4-bit?", "llama 3 70b", "p=4 gpu=rtx-a6000", FIT, ()),
    ("how many tokens of context fit for Qwen/Qwen3-8B on an L4 with 8 users", "Qwen/Qwen3-8B", "b=8 gpu=l4", CTX, ()),
    (
        "can nvidia/Llama-3.1-Nemotron-70B-Instruct-HF run on 4x L40S with 16k ctx?",
        "nvidia/Llama-3.1-Nemotron-70B-Instruct-HF",
        "s=16k gpu=l40s gpus=4",
        FIT,
        (),
    ),
    (
        "I want to serve Qwen/Qwen3-32B to 20 people with 8k context on A100s, how many do I need?",
        "Qwen/Qwen3-32B",
        "s=8k b=20 gpu=a100-80gb",
        GPUS,
        (),
    ),
    ("what's the biggest batch Qwen/Qwen3-8B can do at 4k on a 4090", "Qwen/Qwen3-8B", "s=4k gpu=rtx-4090", BATCH, ()),
    ("Qwen/Qwen3-8B, 32k, 8 users, L40S", "Qwen/Qwen3-8B", "s=32k b=8 gpu=l40s", FIT, ()),
    (
        "Hi! Quick question: can we run Qwen/Qwen3-32B at 32k context on a single A100 80GB for ~10 concurrent users?",
        "Qwen/Qwen3-32B",
        "s=32k b=10 gpu=a100-80gb gpus=1",
        FIT,
        (),
    ),
    (
        "Is 2x H100 enough for llama 3.3 70b fp8 with 128k context?",
        "llama 3.3 70b",
        "s=128k dtype=fp8 gpu=h100-80gb gpus=2",
        FIT,
        (),
    ),
    (
        "what's the max context length Qwen/Qwen3-8B supports on an RTX 4090 with 4-bit weights",
        "Qwen/Qwen3-8B",
        "p=4 gpu=rtx-4090",
        CTX,
        (),
    ),
    ("Qwen/Qwen3-8B on an L4 at 32k -- how many requests in parallel?", "Qwen/Qwen3-8B", "s=32k gpu=l4", BATCH, ()),
    ("does it make sense to run qwen3 32b on 4 L4s with tp=4?", "qwen3 32b", "gpu=l4 gpus=4", FIT, ("sense",)),
    # -- Hub URLs and revisions
    ("https://huggingface.co/Qwen/Qwen3-8B will it fit on a T4?", "Qwen/Qwen3-8B", "gpu=t4", FIT, ()),
    ("<https://huggingface.co/Qwen/Qwen3-8B|Qwen3-8B> on a t4", "Qwen/Qwen3-8B", "gpu=t4", FIT, ()),
    ("does https://hf.co/openai/gpt-oss-20b fit on an L4", "openai/gpt-oss-20b", "gpu=l4", FIT, ()),
    ("https://huggingface.co/Qwen/Qwen3-8B/tree/main on an L4", "Qwen/Qwen3-8B@main", "gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B@main at 8k on an L4", "Qwen/Qwen3-8B@main", "s=8k gpu=l4", FIT, ()),
    # -- key=value mixed in
    ("can Qwen/Qwen3-8B run s=32k b=4 on an L4?", "Qwen/Qwen3-8B", "s=32k b=4 gpu=l4", FIT, ()),
    ("will Qwen/Qwen3-8B fit gpu=l40s gpus=2 at 64k", "Qwen/Qwen3-8B", "s=64k gpu=l40s gpus=2", FIT, ()),
    ("Qwen/Qwen3-8B on an L4 with kv=fp8 engine=vllm", "Qwen/Qwen3-8B", "kv=fp8 gpu=l4 engine=vllm", FIT, ()),
    ("Qwen/Qwen3-8B at 32k but s=16k", "Qwen/Qwen3-8B", "s=16k", FIT, ()),
    ("Qwen/Qwen3-8B with s = 8k on an L4", "Qwen/Qwen3-8B", "s=8k gpu=l4", FIT, ()),
    ("qwen3 8b n=8.2 on a T4", "qwen3 8b", "n=8.2 gpu=t4", FIT, ()),
    ("how many users can Qwen/Qwen3-8B serve with ctx=16k gpu=l4", "Qwen/Qwen3-8B", "s=16k gpu=l4", BATCH, ()),
    # -- pasted vLLM command lines
    (
        "vllm serve Qwen/Qwen3-32B --tensor-parallel-size 2 --max-model-len 32768 --gpu-memory-utilization 0.95 on "
        "h100",
        "Qwen/Qwen3-32B",
        "s=32k gpu=h100-80gb gpus=2 engine=vllm util=0.95",
        FIT,
        (),
    ),
    # Pipeline stages: the cards named are all the stages' GPUs, gpus= each stage's TP group.
    (
        "vllm serve Qwen/Qwen3-32B --pipeline-parallel-size 2 --max-model-len 32768 on two L40S",
        "Qwen/Qwen3-32B",
        "s=32k gpu=l40s gpus=1 pp=2 engine=vllm",
        FIT,
        (),
    ),
    (
        "can Qwen3-32B run on 4 L40S with pipeline parallel 2 in vllm?",
        "Qwen3-32B",
        "gpu=l40s gpus=2 pp=2 engine=vllm",
        FIT,
        (),
    ),
    (
        "Qwen/Qwen3-32B with tp 2 and pp 2 on L40S in vllm",
        "Qwen/Qwen3-32B",
        "gpu=l40s gpus=2 pp=2 engine=vllm",
        FIT,
        (),
    ),
    # Data-parallel replicas: the cards named are all the replicas' GPUs, gpus= each one's TP group.
    (
        "vllm serve Qwen/Qwen3-32B --data-parallel-size 4 --tensor-parallel-size 2 --max-model-len 32768 on H100",
        "Qwen/Qwen3-32B",
        "s=32k gpu=h100-80gb gpus=2 dp=4 engine=vllm",
        FIT,
        (),
    ),
    ("vllm serve Qwen/Qwen3-8B -dp 2 on an L4", "Qwen/Qwen3-8B", "s=max gpu=l4 dp=2 engine=vllm", FIT, ()),
    (
        "can Qwen3-32B serve 64 users on 8 H100s with data parallel 4 in vllm?",
        "Qwen3-32B",
        "b=64 gpu=h100-80gb gpus=2 dp=4 engine=vllm",
        FIT,
        (),
    ),
    # dp= typed beside the cards counted splits them as "data parallel 4" does (it read 4 sets of 8).
    (
        "will Qwen3-32B fit on 8 H100s with dp=4?",
        "Qwen3-32B",
        "gpu=h100-80gb gpus=2 dp=4 engine=vllm",
        FIT,
        (),
    ),
    (
        "will Qwen3-32B fit on 8 H100s with pp=2 dp=2?",
        "Qwen3-32B",
        "gpu=h100-80gb gpus=2 pp=2 dp=2 engine=vllm",
        FIT,
        (),
    ),
    # "8 GPUs" counts cards as "8 H100s" does: all the replicas' GPUs together.
    (
        "can Qwen3-32B serve 64 users on 8 GPUs with data parallel 4 in vllm?",
        "Qwen3-32B",
        "b=64 gpus=2 dp=4 engine=vllm",
        FIT,
        (),
    ),
    # A pasted command's sizes beside the cards that run it: 2 x 2 = 4 H100 and 2 x 4 = 8 H100.
    (
        "vllm serve Qwen/Qwen3-8B -tp 2 -pp 2 on 4 H100",
        "Qwen/Qwen3-8B",
        "s=max gpu=h100-80gb gpus=2 pp=2 engine=vllm",
        FIT,
        (),
    ),
    (
        "vllm serve Qwen/Qwen3-8B -tp 2 -dp 4 on 8 H100",
        "Qwen/Qwen3-8B",
        "s=max gpu=h100-80gb gpus=2 dp=4 engine=vllm",
        FIT,
        (),
    ),
    # Both: 16 cards are 2 stages x 4 replicas of a 2-GPU group (16 / (2 x 4) = 2).
    (
        "can Qwen3-32B run on 16 H100s with pipeline parallel 2 and data parallel 4 in vllm?",
        "Qwen3-32B",
        "gpu=h100-80gb gpus=2 pp=2 dp=4 engine=vllm",
        FIT,
        (),
    ),
    # Stages, replicas, expert parallelism and EPLB are vLLM's alone: named without an engine, they ask
    # about vLLM (8 H100s over 4 replicas: groups of 8 / 4 = 2). An engine said stays as said.
    (
        "Qwen/Qwen3-32B on 8 H100s with data parallel 4 for 64 users",
        "Qwen/Qwen3-32B",
        "b=64 gpu=h100-80gb gpus=2 dp=4 engine=vllm",
        FIT,
        (),
    ),
    ("Qwen/Qwen3-32B -tp 2 -dp 4 on 8 H100", "Qwen/Qwen3-32B", "gpu=h100-80gb gpus=2 dp=4 engine=vllm", FIT, ()),
    (
        "will Qwen/Qwen3-32B fit with -pp 2 on 2 H100",
        "Qwen/Qwen3-32B",
        "gpu=h100-80gb gpus=1 pp=2 engine=vllm",
        FIT,
        (),
    ),
    (
        "can Qwen3-32B run on 4 L40S with pipeline parallel 2?",
        "Qwen3-32B",
        "gpu=l40s gpus=2 pp=2 engine=vllm",
        FIT,
        (),
    ),
    (
        "Qwen/Qwen3-30B-A3B with expert parallelism on 2 H100s",
        "Qwen/Qwen3-30B-A3B",
        "gpu=h100-80gb gpus=2 ep=on engine=vllm",
        FIT,
        (),
    ),
    (
        "Qwen/Qwen3-30B-A3B with eplb on 2 H100s",
        "Qwen/Qwen3-30B-A3B",
        "gpu=h100-80gb gpus=2 ep=on eplb=0 engine=vllm",
        FIT,
        (),
    ),
    (
        "Qwen/Qwen3-32B with transformers on 8 H100s with data parallel 4",
        "Qwen/Qwen3-32B",
        "gpu=h100-80gb gpus=2 dp=4 engine=transformers",
        FIT,
        (),
    ),
    ("Qwen/Qwen3-32B with data parallel 1 on an H100", "Qwen/Qwen3-32B", "gpu=h100-80gb dp=1", FIT, ()),
    (
        "vllm serve Qwen/Qwen3-8B --max-num-seqs 64 --max-model-len 8192 on an L40S",
        "Qwen/Qwen3-8B",
        "s=8k gpu=l40s engine=vllm seqs=64",
        FIT,
        (),
    ),
    # vLLM releases in words: "vllm 0.31", "v0.31", a patch or pip's "==" all read as vllm= (the
    # release as the grammar keeps it), never as a second model or a word not used.
    (
        "can ./qwen3_5_27b run 128k context for 8 users on two H100s with vllm 0.31?",
        "./qwen3_5_27b",
        "s=128k b=8 gpu=h100-80gb gpus=2 engine=vllm vllm=0.31",
        FIT,
        (),
    ),
    (
        "./qwen3_5_27b at 64k on h100 with vllm v0.31",
        "./qwen3_5_27b",
        "s=64k gpu=h100-80gb engine=vllm vllm=0.31",
        FIT,
        (),
    ),
    ("Qwen/Qwen3-8B on vLLM 0.31.1 on an L4", "Qwen/Qwen3-8B", "gpu=l4 engine=vllm vllm=0.31.1", FIT, ()),
    ("Qwen/Qwen3-8B with vllm==0.31 on an L4", "Qwen/Qwen3-8B", "gpu=l4 engine=vllm vllm=0.31", FIT, ()),
    # Glued on with a dash, as an image tag or a wheel name writes it: the release, not a second model.
    (
        "./qwen3_5_27b at 64k on h100 with vllm-0.31",
        "./qwen3_5_27b",
        "s=64k gpu=h100-80gb engine=vllm vllm=0.31",
        FIT,
        (),
    ),
    ("Qwen/Qwen3-8B on an L4 with vLLM-v0.31.1", "Qwen/Qwen3-8B", "gpu=l4 engine=vllm vllm=0.31.1", FIT, ()),
    (
        "Qwen/Qwen3-8B on an L4 with vllm version 0.29.1rc1.dev339+g554340f3d",
        "Qwen/Qwen3-8B",
        "gpu=l4 engine=vllm vllm=0.29.1rc1.dev339+g554340f3d",
        FIT,
        (),
    ),
    ("Qwen/Qwen3-8B with vllm 0.9 gpu memory utilization", "Qwen/Qwen3-8B", "engine=vllm util=0.9", FIT, ()),
    # A count after the utilisation word is not it: "0.95 util 8 users" is util 0.95 and 8 users.
    (
        "Qwen/Qwen3-8B on h100 with vllm at 0.95 util 8 users",
        "Qwen/Qwen3-8B",
        "b=8 gpu=h100-80gb engine=vllm util=0.95",
        FIT,
        (),
    ),
    (
        "Qwen/Qwen3-8B on h100 with vllm 0.9 util 2 replicas",
        "Qwen/Qwen3-8B",
        "gpu=h100-80gb dp=2 engine=vllm util=0.9",
        FIT,
        (),
    ),
    ("Qwen/Qwen3-8B on h100 at 0.9 util at 32k", "Qwen/Qwen3-8B", "s=32k gpu=h100-80gb engine=vllm util=0.9", FIT, ()),
    ("Qwen/Qwen3-8B on an h100 with vllm util 90", "Qwen/Qwen3-8B", "gpu=h100-80gb engine=vllm util=0.9", FIT, ()),
    # A number after the utilisation word is the utilisation; the one before it is then the release.
    ("Qwen/Qwen3-8B with vllm 0.33 util 0.99", "Qwen/Qwen3-8B", "engine=vllm util=0.99 vllm=0.33", FIT, ()),
    (
        "Qwen/Qwen3-8B with vllm 0.31 gpu memory utilization of 0.8",
        "Qwen/Qwen3-8B",
        "engine=vllm util=0.8 vllm=0.31",
        FIT,
        (),
    ),
    # vLLM serve flags: --flag value and --flag=value, each read as its grammar key.
    # An absolute path is a local model too ("vllm serve /models/X", --model /models/X).
    (
        "vllm serve /models/qwen3_5_27b --max-model-len 65536 --tensor-parallel-size 2 on h100",
        "/models/qwen3_5_27b",
        "s=64k gpu=h100-80gb gpus=2 engine=vllm",
        FIT,
        (),
    ),
    (
        "can /models/Qwen3-8B run 32k on an H100 with vllm?",
        "/models/Qwen3-8B",
        "s=32k gpu=h100-80gb engine=vllm",
        FIT,
        (),
    ),
    # Slack's emphasis around words is not part of them; a lone underscore in a name is.
    ("does ./ckpt_ fit an h100", "./ckpt_", "gpu=h100-80gb", FIT, ()),
    ("can Qwen/Qwen3-8B run *8k* for _2 users_ on an h100?", "Qwen/Qwen3-8B", "s=8k b=2 gpu=h100-80gb", FIT, ()),
    # A folder as a shell completes it, with its trailing slash; chat's "w/" is not one.
    ("does models/Qwen3-8B/ fit an h100 at 8k", "models/Qwen3-8B/", "s=8k gpu=h100-80gb", FIT, ()),
    ("does Qwen3-8B/ fit an h100 at 8k", "Qwen3-8B/", "s=8k gpu=h100-80gb", FIT, ()),
    ("can Qwen/Qwen3-8B run 32k w/ 4 users on an L4", "Qwen/Qwen3-8B", "s=32k b=4 gpu=l4", FIT, ()),
    ("can Qwen/Qwen3-8B run 32k w/8 users on an L4", "Qwen/Qwen3-8B", "s=32k b=8 gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B on an h100 w/fp8 kv", "Qwen/Qwen3-8B", "kv=fp8 gpu=h100-80gb", FIT, ()),
    (
        "vllm serve ./qwen3_5_27b --max-model-len 65536 --tensor-parallel-size 2 --kv-cache-dtype fp8 on h100",
        "./qwen3_5_27b",
        "s=64k kv=fp8 gpu=h100-80gb gpus=2 engine=vllm",
        FIT,
        (),
    ),
    (
        "vllm serve Qwen/Qwen3-8B --max-model-len=16384 --kv-cache-dtype=fp8 --max-num-seqs=64 "
        "--max-num-batched-tokens=8192 --gpu-memory-utilization=0.85 on an L40S",
        "Qwen/Qwen3-8B",
        "s=16k kv=fp8 gpu=l40s engine=vllm util=0.85 mnbt=8k seqs=64",
        FIT,
        (),
    ),
    # vLLM's own integers (human_readable_int): lower-case k is 1,000, upper-case K is 1,024.
    ("vllm serve Qwen/Qwen3-8B --max-model-len 32k on an L4", "Qwen/Qwen3-8B", "s=32000 gpu=l4 engine=vllm", FIT, ()),
    ("vllm serve Qwen/Qwen3-8B --max-model-len 32K on an L4", "Qwen/Qwen3-8B", "s=32k gpu=l4 engine=vllm", FIT, ()),
    (
        "vllm serve Qwen/Qwen3-8B --max-num-batched-tokens 2k --max_model_len 8192 on an L4",
        "Qwen/Qwen3-8B",
        "s=8k gpu=l4 engine=vllm mnbt=2000",
        FIT,
        (),
    ),
    (
        "vllm serve Qwen/Qwen3-32B -tp 2 -pp 2 on L40S",
        "Qwen/Qwen3-32B",
        "s=max gpu=l40s gpus=2 pp=2 engine=vllm",
        FIT,
        (),
    ),
    (
        "vllm serve Qwen/Qwen3-32B --tensor_parallel_size=2 --pipeline-parallel-size=2 on L40S",
        "Qwen/Qwen3-32B",
        "s=max gpu=l40s gpus=2 pp=2 engine=vllm",
        FIT,
        (),
    ),
    (
        "vllm serve Qwen/Qwen3-8B --enable-prefix-caching on an L4",
        "Qwen/Qwen3-8B",
        "s=max gpu=l4 engine=vllm prefix=on",
        FIT,
        (),
    ),
    (
        "vllm serve Qwen/Qwen3-8B --no-enable-prefix-caching on an L4",
        "Qwen/Qwen3-8B",
        "s=max gpu=l4 engine=vllm prefix=off",
        FIT,
        (),
    ),
    (
        "vllm serve Qwen/Qwen3-8B --kv-cache-dtype fp8_e5m2 on an L4",
        "Qwen/Qwen3-8B",
        "s=max kv=fp8 gpu=l4 engine=vllm",
        FIT,
        (),
    ),
    (
        "vllm serve ./deepseek --kv-cache-dtype fp8_ds_mla on h200",
        "./deepseek",
        "s=max kv=fp8 gpu=h200 engine=vllm",
        FIT,
        (),
    ),
    (
        "vllm serve Qwen/Qwen3-8B --quantization fp8 on an L4",
        "Qwen/Qwen3-8B",
        "s=max dtype=fp8 gpu=l4 engine=vllm",
        FIT,
        (),
    ),
    ("vllm serve ./m -q awq_marlin on an L4", "./m", "s=max dtype=awq gpu=l4 engine=vllm", FIT, ()),
    ("vllm serve ./m --quantization bitsandbytes on an L4", "./m", "s=max dtype=nf4 gpu=l4 engine=vllm", FIT, ()),
    # --speculative-config's JSON: an MTP method is mtp=, a drafter is draft= and spec=.
    (
        'vllm serve ./qwen3_5_27b --speculative-config \'{"method": "mtp", "num_speculative_tokens": 3}\' on h100',
        "./qwen3_5_27b",
        "s=max gpu=h100-80gb engine=vllm mtp=3",
        FIT,
        (),
    ),
    (
        'vllm serve ./qwen3_next -sc \'{"method":"qwen3_next_mtp","num_speculative_tokens":2}\'',
        "./qwen3_next",
        "s=max engine=vllm mtp=2",
        FIT,
        (),
    ),
    (
        'vllm serve ./qwen3_5_27b --speculative-config={"method":"dflash","model":"z-lab/Qwen3.5-27B-DFlash",'
        '"num_speculative_tokens":8} on h100',
        "./qwen3_5_27b",
        "s=max gpu=h100-80gb engine=vllm draft=z-lab/Qwen3.5-27B-DFlash spec=8",
        FIT,
        (),
    ),
    (
        'vllm serve ./llama --speculative-config \'{"method": "eagle3", "model": "./eagle3", '
        '"num_speculative_tokens": 2, "draft_tensor_parallel_size": 1}\'',
        "./llama",
        "s=max engine=vllm draft=./eagle3 spec=2",
        FIT,
        (),
    ),
    (
        'vllm serve Qwen/Qwen3-8B --speculative-config \'{"model": "Qwen/Qwen3-0.6B", '
        '"num_speculative_tokens": 4, "method": "draft_model"}\' on an L4',
        "Qwen/Qwen3-8B",
        "s=max gpu=l4 engine=vllm draft=Qwen/Qwen3-0.6B spec=4",
        FIT,
        (),
    ),
    (
        "vllm serve ./qwen3_5_27b --speculative-config.method mtp --speculative-config.num_speculative_tokens=2",
        "./qwen3_5_27b",
        "s=max engine=vllm mtp=2",
        FIT,
        (),
    ),
    # --limit-mm-per-prompt (JSON or the older image=2) and --language-model-only are mm=.
    (
        'vllm serve ./gemma --limit-mm-per-prompt \'{"image": 0, "video": 0}\' on h100',
        "./gemma",
        "s=max gpu=h100-80gb engine=vllm mm=0",
        FIT,
        (),
    ),
    (
        "vllm serve ./gemma --limit-mm-per-prompt image=2 on h100",
        "./gemma",
        "s=max gpu=h100-80gb engine=vllm mm=2",
        FIT,
        (),
    ),
    ("vllm serve ./gemma --language-model-only on h100", "./gemma", "s=max gpu=h100-80gb engine=vllm mm=0", FIT, ()),
    # Flags that change no memory are listed as not used, by name (an --api-key's value is not echoed).
    (
        "vllm serve Qwen/Qwen3-8B --host 0.0.0.0 --port 8000 --served-model-name qwen --trust-remote-code "
        "--tool-call-parser hermes --enable-auto-tool-choice --api-key sk-123 --dtype bfloat16 on an L4",
        "Qwen/Qwen3-8B",
        "s=max gpu=l4 engine=vllm",
        FIT,
        (
            "--host",
            "--port",
            "--served-model-name",
            "--trust-remote-code",
            "--tool-call-parser",
            "--enable-auto-tool-choice",
            "--api-key",
            "--dtype",
        ),
    ),
    # --revision is the model's revision; loading and CPU-only flags change no GPU memory.
    (
        "vllm serve Qwen/Qwen3-8B --revision main --load-format safetensors --swap-space 4 --enable-chunked-prefill "
        "on an L4",
        "Qwen/Qwen3-8B@main",
        "s=max gpu=l4 engine=vllm",
        FIT,
        ("--load-format", "--swap-space", "--enable-chunked-prefill"),
    ),
    ("vllm serve ./qwen --revision main on an L4", "./qwen", "s=max gpu=l4 engine=vllm", FIT, ("--revision",)),
    # The scheduler's cap said in words, and a share of the GPU's memory: seqs= and util=, not a batch.
    (
        "Qwen/Qwen3-8B on 4 H100s, 128k context, max 64 seqs, 90% gpu memory, vllm",
        "Qwen/Qwen3-8B",
        "s=128k gpu=h100-80gb gpus=4 engine=vllm util=0.9 seqs=64",
        FIT,
        (),
    ),
    (
        "Qwen/Qwen3-8B on an h100 with vllm at 85% of the gpu memory and max seqs 32",
        "Qwen/Qwen3-8B",
        "gpu=h100-80gb engine=vllm util=0.85 seqs=32",
        FIT,
        (),
    ),
    # --kv-cache-memory-bytes keeps vLLM's units for the grammar to read (20G is GiB).
    (
        "vllm serve Qwen/Qwen3-8B --kv-cache-memory-bytes 20G --max-model-len 32768 on an h100",
        "Qwen/Qwen3-8B",
        "s=32k gpu=h100-80gb engine=vllm kvmem=20G",
        FIT,
        (),
    ),
    # EPLB: --enable-eplb with EPLBConfig.num_redundant_experts; words bring ep=on, which EPLB needs.
    (
        "vllm serve deepseek-ai/DeepSeek-V3 -tp 8 --enable-expert-parallel --enable-eplb "
        "--eplb-config '{\"num_redundant_experts\": 32}' --max-model-len 32768 on h200",
        "deepseek-ai/DeepSeek-V3",
        "s=32k gpu=h200 gpus=8 ep=on eplb=32 engine=vllm",
        FIT,
        (),
    ),
    (
        "vllm serve deepseek-ai/DeepSeek-V3 -tp 8 -ep --enable-eplb --max-model-len 32768 on h200",
        "deepseek-ai/DeepSeek-V3",
        "s=32k gpu=h200 gpus=8 ep=on eplb=0 engine=vllm",
        FIT,
        (),
    ),
    (
        "can deepseek-ai/DeepSeek-V3 run on 8 H200 with vllm and eplb with 32 redundant experts",
        "deepseek-ai/DeepSeek-V3",
        "gpu=h200 gpus=8 ep=on eplb=32 engine=vllm",
        FIT,
        (),
    ),
    # "at 1m": a million-token context (k = 1024, m = 1024 x 1024), not a second model.
    ("can Qwen/Qwen3-8B run at 1m on an h100 with vllm", "Qwen/Qwen3-8B", "s=1m gpu=h100-80gb engine=vllm", FIT, ()),
    # --block-size: CacheConfig.block_size, the grammar's block=.
    (
        "vllm serve Qwen/Qwen3-8B --block-size 32 --max-model-len 8192 on an L4",
        "Qwen/Qwen3-8B",
        "s=8k gpu=l4 engine=vllm block=32",
        FIT,
        (),
    ),
    ("Qwen/Qwen3-8B in bitsandbytes 8-bit on an L4", "Qwen/Qwen3-8B", "dtype=int8 gpu=l4", FIT, ()),
    # A KV cache size in words is the pool as given (kvmem=), in the unit written.
    (
        "can Qwen/Qwen3-8B run 32k for 8 users with 20 GB of kv cache memory on an h100 with vllm",
        "Qwen/Qwen3-8B",
        "s=32k b=8 gpu=h100-80gb engine=vllm kvmem=20GB",
        FIT,
        (),
    ),
    (
        "Qwen/Qwen3-8B with a 20GiB kv cache on an h100 in vllm",
        "Qwen/Qwen3-8B",
        "gpu=h100-80gb engine=vllm kvmem=20GiB",
        FIT,
        (),
    ),
    # RoPE YaRN scaling in words and as the vLLM override that gives it.
    ("can Qwen/Qwen3-8B do 128k with yarn 4 on an h100", "Qwen/Qwen3-8B", "s=128k gpu=h100-80gb yarn=4", FIT, ()),
    # Up to 0.29 vLLM sizes YaRN positions as original x factor (config/model.py _get_and_verify_max_len
    # @v0.29.0), whatever max_position_embeddings says: the override reads as yarn= with that release.
    (
        'vllm serve Qwen/Qwen3-8B --max-model-len 131072 --hf-overrides \'{"rope_scaling": {"rope_type": "yarn", '
        '"factor": 4, "original_max_position_embeddings": 32768}}\' with vllm 0.29 on h100',
        "Qwen/Qwen3-8B",
        "s=128k gpu=h100-80gb engine=vllm vllm=0.29 yarn=4:32768",
        FIT,
        (),
    ),
    (
        'vllm serve Qwen/Qwen3-8B --max-model-len 131072 --hf-overrides \'{"rope_scaling": {"rope_type": "yarn", '
        '"factor": 4, "original_max_position_embeddings": 32768}, "max_position_embeddings": 40960}\' '
        "on vllm 0.27 h100",
        "Qwen/Qwen3-8B",
        "s=128k gpu=h100-80gb engine=vllm vllm=0.27 yarn=4:32768",
        FIT,
        (),
    ),
    ("Qwen/Qwen3-8B at 128k with 4x yarn on an h100", "Qwen/Qwen3-8B", "s=128k gpu=h100-80gb yarn=4", FIT, ()),
    (
        'vllm serve Qwen/Qwen3-8B --max-model-len 131072 --hf-overrides \'{"rope_scaling": {"rope_type": '
        '"yarn", "factor": 4.0, "original_max_position_embeddings": 32768}, "max_position_embeddings": 131072}\' '
        "on an h100",
        "Qwen/Qwen3-8B",
        "s=128k gpu=h100-80gb engine=vllm yarn=4:32768",
        FIT,
        (),
    ),
    # A comma ends a phrase: "context, 10 users" is no context of 10 (with or without the space).
    (
        "Qwen/Qwen3-8B do 16k context,10 users on an h100",
        "Qwen/Qwen3-8B",
        "s=16k b=10 gpu=h100-80gb",
        FIT,
        (),
    ),
    ("can Qwen/Qwen3-8B run on 2 RTX 4090 GPUs?", "Qwen/Qwen3-8B", "gpu=rtx-4090 gpus=2", FIT, ()),
    (
        "Qwen/Qwen3-4B on 2x 4090 with vllm, 16k context, 10 users",
        "Qwen/Qwen3-4B",
        "s=16k b=10 gpu=rtx-4090 gpus=2 engine=vllm",
        FIT,
        (),
    ),
    (
        "vllm serve --model Qwen/Qwen3-8B --max-model-len 4096 on an L4",
        "Qwen/Qwen3-8B",
        "s=4k gpu=l4 engine=vllm",
        FIT,
        (),
    ),
    # As chat clients retype a pasted command: a code span, long dashes, curly quotes.
    ("`vllm serve Qwen/Qwen3-8B --max-model-len 8192` on an L4", "Qwen/Qwen3-8B", "s=8k gpu=l4 engine=vllm", FIT, ()),
    (
        "vllm serve Qwen/Qwen3-8B —kv-cache-dtype fp8 —speculative-config ‘{“model”: “Qwen/Qwen3-0.6B”, "
        "“num_speculative_tokens”: 4}’ on an L4",
        "Qwen/Qwen3-8B",
        "s=max kv=fp8 gpu=l4 engine=vllm draft=Qwen/Qwen3-0.6B spec=4",
        FIT,
        (),
    ),
    # --max-model-len with no number asks for the longest context, as before.
    ("what --max-model-len can Qwen/Qwen3-8B take on an L4 with vllm", "Qwen/Qwen3-8B", "gpu=l4 engine=vllm", CTX, ()),
    # -- words left over are listed, never dropped
    ("Qwen/Qwen3-8B on an L4 for our chatbot", "Qwen/Qwen3-8B", "gpu=l4", FIT, ("chatbot",)),
    ("Qwen/Qwen3-8B on an L4 in 24gb", "Qwen/Qwen3-8B", "gpu=l4", FIT, ("24gb",)),
    ("Qwen/Qwen3-8B on a budget L4 box", "Qwen/Qwen3-8B", "gpu=l4", FIT, ("budget", "box")),
    ("Qwen/Qwen3-8B on an L4 quickly", "Qwen/Qwen3-8B", "gpu=l4", FIT, ("quickly",)),
    # "text only": vLLM's --language-model-only, mm=0 (no vision tower, no encoder profile).
    ("./qwen3_5_27b text only on an H100 with vllm", "./qwen3_5_27b", "gpu=h100-80gb engine=vllm mm=0", FIT, ()),
    (
        "can ./qwen3_5_27b run text-only on an H100 with vllm?",
        "./qwen3_5_27b",
        "gpu=h100-80gb engine=vllm mm=0",
        FIT,
        (),
    ),
    ("./qwen3_5_27b as a language model only on an H100", "./qwen3_5_27b", "gpu=h100-80gb engine=vllm mm=0", FIT, ()),
    # A memory size with "each" is what the cards hold, not a second model; vram sizes by the GPU's name.
    ("can I run Qwen/Qwen3-8B with 2 GPUs of 24GB each?", "Qwen/Qwen3-8B", "gpus=2", FIT, ("24GB", "each")),
    # "mtp 3": MTP with 3 speculative tokens (vLLM's num_speculative_tokens), as --speculative-config reads.
    (
        "how much context can ./qwen3_5_27b take on 2 RTX 5090s with vllm 0.33 and fp8 kv, mtp 3?",
        "./qwen3_5_27b",
        "kv=fp8 gpu=rtx-5090 gpus=2 engine=vllm vllm=0.33 mtp=3",
        CTX,
        (),
    ),
    (
        "./qwen3_5_27b on an H100 with vllm and 2 mtp tokens",
        "./qwen3_5_27b",
        "gpu=h100-80gb engine=vllm mtp=2",
        FIT,
        (),
    ),
    # Plain-words trial (2026-12-08): numbers in words, prompt plus output, counts after "context",
    # the KV dtype said every way, transformers' attention names, and vLLM's settings naming vLLM.
    ("Qwen/Qwen3-8B on an H100 for two hundred users", "Qwen/Qwen3-8B", "b=200 gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B on an H100 at thirty-two thousand tokens", "Qwen/Qwen3-8B", "s=32000 gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B on an L4 at 32 k", "Qwen/Qwen3-8B", "s=32k gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B on an H100 at 1 million tokens", "Qwen/Qwen3-8B", "s=1000000 gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B on a couple of H100s", "Qwen/Qwen3-8B", "gpu=h100-80gb gpus=2", FIT, ()),
    ("Qwen/Qwen3-8B on an H100 with 30k prompt + 2k generation", "Qwen/Qwen3-8B", "s=32k gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B with 32k input and 4k output on an H100", "Qwen/Qwen3-8B", "s=36k gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B 16k in / 1k out for 8 users on an H100", "Qwen/Qwen3-8B", "s=17k b=8 gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B on an H100 with a 30k prompt", "Qwen/Qwen3-8B", "s=30k gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B 32k ctx 16 users L40S", "Qwen/Qwen3-8B", "s=32k b=16 gpu=l40s", FIT, ()),
    ("Qwen/Qwen3-8B on an H100, 32k context 8 users", "Qwen/Qwen3-8B", "s=32k b=8 gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B on an L4 with the kv cache quantized to fp8", "Qwen/Qwen3-8B", "kv=fp8 gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B on an L4 with kv_cache_dtype fp8", "Qwen/Qwen3-8B", "kv=fp8 gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B on an L4 at 8k with eager attention", "Qwen/Qwen3-8B", "s=8k fa=off gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B on an L4 with sdpa", "Qwen/Qwen3-8B", "fa=on gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B on 2 A100s with tensor parallel", "Qwen/Qwen3-8B", "gpu=a100-80gb gpus=2 engine=vllm", FIT, ()),
    ("Qwen/Qwen3-8B on an L4 with 20GB of kv cache memory", "Qwen/Qwen3-8B", "gpu=l4 engine=vllm kvmem=20GB", FIT, ()),
    ("Qwen/Qwen3-8B on an L4 in eager mode", "Qwen/Qwen3-8B", "gpu=l4 engine=vllm eager=on", FIT, ()),
    ("Qwen/Qwen3-8B on 2 H100's", "Qwen/Qwen3-8B", "gpu=h100-80gb gpus=2", FIT, ()),
    ("Qwen/Qwen3-8B on a T4 x 4", "Qwen/Qwen3-8B", "gpu=t4 gpus=4", FIT, ()),
    ("Qwen/Qwen3-8B on an L4 at ~32k", "Qwen/Qwen3-8B", "s=32k gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B on an L4 at 32k+", "Qwen/Qwen3-8B", "s=32k gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B H100 seqlen 8k bsz 16", "Qwen/Qwen3-8B", "s=8k b=16 gpu=h100-80gb", FIT, ()),
    # Negations: a switch's off; a contrast with the setting said otherwise; tensor parallelism refused.
    (
        "Qwen/Qwen3-8B with vllm but not with prefix caching on an h100",
        "Qwen/Qwen3-8B",
        "gpu=h100-80gb engine=vllm prefix=off",
        FIT,
        (),
    ),
    (
        "Qwen/Qwen3-8B on an L4 with prefix caching turned off with vllm",
        "Qwen/Qwen3-8B",
        "gpu=l4 engine=vllm prefix=off",
        FIT,
        (),
    ),
    ("Qwen/Qwen3-8B on an L4 with flash attention turned off", "Qwen/Qwen3-8B", "fa=off gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B on an L4 with cuda graphs turned off", "Qwen/Qwen3-8B", "gpu=l4 engine=vllm eager=on", FIT, ()),
    (
        "Qwen/Qwen3-8B on 2 L4s without tensor parallelism",
        "Qwen/Qwen3-8B",
        "gpu=l4 gpus=2",
        FIT,
        ("without tensor parallelism",),
    ),
    (
        "Qwen/Qwen3-8B in transformers (not vllm) on an L4",
        "Qwen/Qwen3-8B",
        "gpu=l4 engine=transformers",
        FIT,
        ("not vllm",),
    ),
    ("Qwen/Qwen3-8B in fp8 instead of bf16 on an L4", "Qwen/Qwen3-8B", "dtype=fp8 gpu=l4", FIT, ("instead of bf16",)),
    ("Qwen/Qwen3-8B in bf16 rather than fp8 on an L4", "Qwen/Qwen3-8B", "dtype=bf16 gpu=l4", FIT, ("rather than fp8",)),
    ("Qwen/Qwen3-8B on a 4090 off the shelf", "Qwen/Qwen3-8B", "gpu=rtx-4090", FIT, ("off", "shelf")),
    # A second plain-words trial (2026-12-08): false refusals and misreadings it found.
    (
        "Qwen/Qwen3-8B at one hundred twenty eight thousand tokens on an H100",
        "Qwen/Qwen3-8B",
        "s=125k gpu=h100-80gb",
        FIT,
        (),
    ),
    ("Qwen/Qwen3-8B for two hundred and fifty users on an H100", "Qwen/Qwen3-8B", "b=250 gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B input 30k, output 2k on an H100", "Qwen/Qwen3-8B", "s=32k gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B 2k output, 30k input on an H100", "Qwen/Qwen3-8B", "s=32k gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B 30k prompt and 2k max_tokens on an H100", "Qwen/Qwen3-8B", "s=32k gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B 16k context and 8 new users on an H100", "Qwen/Qwen3-8B", "s=16k b=8 gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B 1 prompt at 8k context on an H100", "Qwen/Qwen3-8B", "s=8k b=1 gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B with 4 input images on an H100", "Qwen/Qwen3-8B", "gpu=h100-80gb", FIT, ("4", "input", "images")),
    ("how many 8k requests can Qwen/Qwen3-8B handle on an L4?", "Qwen/Qwen3-8B", "s=8k gpu=l4", BATCH, ()),
    ("Qwen/Qwen3-8B 16 concurrent 8k sessions on an H100", "Qwen/Qwen3-8B", "s=8k b=16 gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B at 32.000 tokens on an L4", "Qwen/Qwen3-8B", "s=32000 gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B for 8 concurrent reqs on an L4", "Qwen/Qwen3-8B", "b=8 gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B for 100 customers on an H100", "Qwen/Qwen3-8B", "b=100 gpu=h100-80gb", FIT, ()),
    ("can we serve our fine-tuned Qwen/Qwen3-8B on an L4?", "Qwen/Qwen3-8B", "gpu=l4", FIT, ("fine-tuned",)),
    ("can Qwen/Qwen3-8B run on-prem on an L4?", "Qwen/Qwen3-8B", "gpu=l4", FIT, ("on-prem",)),
    ("Qwen/Qwen3-8B on 1 node of 8 H100s", "Qwen/Qwen3-8B", "gpu=h100-80gb gpus=8", FIT, ()),
    ("Qwen/Qwen3-8B 16 H100s across 2 nodes", "Qwen/Qwen3-8B", "gpu=h100-80gb gpus=16", FIT, ()),
    ("Qwen/Qwen3-8B on a node with 4 L40S", "Qwen/Qwen3-8B", "gpu=l40s gpus=4", FIT, ()),
    ("Qwen/Qwen3-8B on a DGX Spark", "Qwen/Qwen3-8B", "gpu=gb10", FIT, ()),
    ("Qwen/Qwen3-8B on a laptop 4070", "Qwen/Qwen3-8B", "gpu=rtx-4070-laptop", FIT, ()),
    ("Qwen/Qwen3-8B at 32k context off the bat on an L4", "Qwen/Qwen3-8B", "s=32k gpu=l4", FIT, ("off", "bat")),
    ("Qwen/Qwen3-8B on 8 H100s with EP off", "Qwen/Qwen3-8B", "gpu=h100-80gb gpus=8 ep=off", FIT, ()),
    # A review of the reader (2026-12-08): contrasts, switches, rates and nodes beside other words.
    (
        "Qwen/Qwen3-8B with fp8 kv cache instead of bf16 on an L4",
        "Qwen/Qwen3-8B",
        "kv=fp8 gpu=l4",
        FIT,
        ("instead of bf16",),
    ),
    (
        "Qwen/Qwen3-8B without kv cache quantization on an L4",
        "Qwen/Qwen3-8B",
        "gpu=l4",
        FIT,
        ("without", "kv", "cache", "quantization"),
    ),
    (
        "Qwen/Qwen3-8B on an L4 with vllm prefix caching not enabled",
        "Qwen/Qwen3-8B",
        "gpu=l4 engine=vllm prefix=off",
        FIT,
        (),
    ),
    ("Qwen/Qwen3-8B on an H100 eager off", "Qwen/Qwen3-8B", "gpu=h100-80gb engine=vllm eager=off", FIT, ()),
    ("Qwen/Qwen3-8B async scheduling off on an H100", "Qwen/Qwen3-8B", "gpu=h100-80gb engine=vllm async=off", FIT, ()),
    (
        "Qwen/Qwen3-8B 1k requests per second on an H100",
        "Qwen/Qwen3-8B",
        "gpu=h100-80gb",
        FIT,
        ("1k requests per second",),
    ),
    ("Qwen/Qwen3-8B 32k context and 4k output on an H100", "Qwen/Qwen3-8B", "s=32k gpu=h100-80gb", FIT, ()),
    ("Qwen/Qwen3-8B at 32 in 4 out of 8 GPUs", "Qwen/Qwen3-8B", "gpus=8", FIT, ("32", "4", "out")),
    ("Qwen/Qwen3-8B on my node with an L4", "Qwen/Qwen3-8B", "gpu=l4", FIT, ("node",)),
    ("Qwen/Qwen3-8B for 8 users and one thousand tokens on an L4", "Qwen/Qwen3-8B", "s=1000 b=8 gpu=l4", FIT, ()),
    ("Qwen/Qwen3-8B at half a million tokens on an L4", "Qwen/Qwen3-8B", "gpu=l4", FIT, ("half", "million")),
    ("will Qwen/Qwen3-8B fit in 24GB?", "Qwen/Qwen3-8B", "gpu=any", FIT, ()),
    ("is 80 GB enough for Qwen/Qwen3-8B at 128k?", "Qwen/Qwen3-8B", "s=128k gpu=any", FIT, ()),
    ("Qwen/Qwen3-8B on an H100, not an A100", "Qwen/Qwen3-8B", "gpu=h100-80gb", FIT, ("not an A100",)),
    ("Qwen/Qwen3-8B not an A100 but an H100", "Qwen/Qwen3-8B", "gpu=h100-80gb", FIT, ("not an A100",)),
    ("Qwen/Qwen3-8B on H100 * 8", "Qwen/Qwen3-8B", "gpu=h100-80gb gpus=8", FIT, ()),
    ("Qwen/Qwen3-8B on 16 H100s (2 nodes)", "Qwen/Qwen3-8B", "gpu=h100-80gb gpus=16", FIT, ()),
    # A number written from words is listed as said where no rule reads it.
    (
        "Qwen/Qwen3-8B on an L4 with a couple of fp8 tricks",
        "Qwen/Qwen3-8B",
        "dtype=fp8 gpu=l4",
        FIT,
        ("a couple of", "tricks"),
    ),
    (
        "Qwen/Qwen3-8B on an L4, thirty-two thousand ways",
        "Qwen/Qwen3-8B",
        "gpu=l4",
        FIT,
        ("thirty-two thousand", "ways"),
    ),
    ("Qwen/Qwen3-8B on an L4 with 2 tricks", "Qwen/Qwen3-8B", "gpu=l4", FIT, ("2", "tricks")),
    ("Qwen/Qwen3-8B on an L4 instead of an H100", "Qwen/Qwen3-8B", "gpu=l4", FIT, ("instead of an H100",)),
    # Typed as key=value, a setting reads as the grammar reads it: no engine implied.
    ("Qwen/Qwen3-8B on an L4 with util=0.9", "Qwen/Qwen3-8B", "gpu=l4 util=0.9", FIT, ()),
    (
        "Qwen/Qwen3-8B on an L4 with transformers in eager mode",
        "Qwen/Qwen3-8B",
        "gpu=l4 engine=transformers eager=on",
        FIT,
        (),
    ),
]

# Sentences vram must refuse or ask back about: (sentence, words the one sentence must contain).
REFUSED: list[tuple[str, str]] = [
    # A negation beside a setting would size that very setting.
    ("will Qwen/Qwen3-8B fit on an L4 at 32k without fp8 kv cache?", '"without fp8 kv cache": vram reads a setting'),
    ("will Qwen/Qwen3-8B fit on an L4 at 32k with fp8 kv cache off?", "would size kv=fp8"),
    ("will Qwen/Qwen3-8B fit on an L4 at 32k, not in fp8", "would size dtype=fp8"),
    ("will Qwen/Qwen3-8B fit on an L4 at 8k without vllm", "leave it out for the default (engine: transformers)"),
    # Words beside an exact model that no rule reads are said as such, not as a second model.
    ("will Qwen/Qwen3-8B fit on a mac m2?", '"mac m2": not a model, GPU or setting vram reads'),
    ("will Qwen/Qwen3-8B fit on an L4 for 8-16 users?", '"8-16": not a model, GPU or setting'),
    ("will Qwen/Qwen3-8B fit on an L4 w/o fp8 kv cache?", '"without fp8 kv cache": vram reads a setting'),
    ("will Qwen/Qwen3-8B fit on an L4, don't use fp8 kv cache", '"don\'t use fp8 kv cache"'),
    ("will Qwen/Qwen3-8B fit on an L4 with fp8 kv cache turned off", "would size kv=fp8"),
    ("will Qwen/Qwen3-8B fit on a laptop 4090?", 'unknown GPU "laptop 4090"'),
    ("will Qwen/Qwen3-8B fit on something other than an H100?", '"other than an H100": vram sizes the card you name'),
    ("will Qwen/Qwen3-8B fit without an H100?", '"without an H100"'),
    ("will Qwen/Qwen3-8B fit on an L4, no need for fp8", '"no need for fp8"'),
    ("will Qwen/Qwen3-8B fit on a node of H100s?", "vram counts GPUs, not nodes"),
    ("will Qwen/Qwen3-8B fit on two 8xH100 nodes?", "vram counts GPUs, not nodes"),
    ("will Qwen/Qwen3-8B fit on 4xH100 per node, 2 nodes?", '"2 nodes": vram counts GPUs'),
    ("will Qwen/Qwen3-8B fit on 2 DGX boxes with 8 H100s each?", '"2 DGX": vram counts GPUs'),
    ("will Qwen/Qwen3-8B fit on an L4, no fp8 or int8?", '"no fp8": vram reads a setting'),
    ("will Qwen/Qwen3-8B fit across 2 nodes of 8xH100?", '"2 nodes": vram counts GPUs'),
    ("will Qwen/Qwen3-8B fit instead of an H100?", '"instead of an H100": vram sizes the card you name'),
    # Nodes hold an unsaid number of GPUs; a format to be picked is no format named.
    ("will Qwen/Qwen3-8B fit on 2 nodes of 8 H100 with vllm at 128k?", '"2 nodes": vram counts GPUs, not nodes'),
    ("will Qwen/Qwen3-8B fit on a DGX H100?", "vram counts GPUs, not nodes"),
    ("what quantization do I need to fit Qwen/Qwen3-8B on a T4?", "vram does not pick a weight format"),
    ("", "ask about a model"),
    ("   ", "ask about a model"),
    ("will it fit on an h100?", "which model?"),
    ("can it run 32k for 8 users on two L40S?", "which model?"),
    ("hello", "which model?"),
    ("Qwen/Qwen3-32B on 3 L40S with pp 2 in vllm", "do not split into 2 pipeline stages"),
    ("Qwen/Qwen3-32B on 3 H100 with dp 2 in vllm", "do not split into 2 data-parallel replicas"),
    # 12 cards split by 2 stages leave 6, which 4 replicas do not divide: 2 x 4 = 8 is the multiple.
    ("Qwen/Qwen3-32B on 12 H100 with pp 2 and dp 4 in vllm", "give a multiple of 8"),
    # -tp 2 -dp 2 is 4 GPUs, not the 8 named.
    ("vllm serve Qwen/Qwen3-8B -tp 2 -dp 2 on 8 H100", "gpus=2 x dp=2 is 4 GPUs, not 8"),
    # The way out names this layout: the cards it takes, or the replicas (stages) that fill the cards.
    (
        "vllm serve Qwen/Qwen3-30B-A3B -dp 2 -tp 2 --enable-expert-parallel on 8 H100",
        "not 8: ask about 4 GPUs, or about dp=4 on 8",
    ),
    ("vllm serve Qwen/Qwen3-8B -pp 2 -tp 2 on 6 H100", "not 6: ask about 4 GPUs"),
    ("vllm serve Qwen/Qwen3-8B -tp 2 on 8 H100", "both set gpus"),
    ("thanks!", "which model?"),
    ("how much vram do I need?", "which model?"),
    ("will a 70b model fit on an h100", "which 70b model?"),
    ("can a 7B run on a 4090", "which 7B model?"),
    ("does 405b fit on 8 H100s", "which 405b model?"),
    ("can qwen3 32b run on a 3080", 'unknown GPU "3080"'),
    ("can qwen3 32b run on an rtx 3080", 'unknown GPU "rtx 3080"'),
    # A count before an unknown GPU: refused like the same GPU without one, never answered without a GPU.
    ("will Qwen/Qwen3-32B fit on 2 RTX 3080 at 32k?", 'unknown GPU "RTX 3080"'),
    ("will Qwen/Qwen3-32B fit at 32k on 2 RTX 3080", 'unknown GPU "RTX 3080"'),
    ("will Qwen/Qwen3-32B fit on 2 3080 at 32k?", 'unknown GPU "3080"'),
    ("will Qwen/Qwen3-32B fit 2 RTX 3080 at 32k?", 'unknown GPU "RTX 3080"'),
    ("can Qwen/Qwen3-32B run 32k with 2 rtx 3080 gpus", 'unknown GPU "rtx 3080"'),
    ("can Qwen/Qwen3-32B run on 2 nvidia geforce rtx 3080 ti", 'unknown GPU "nvidia geforce rtx 3080 ti"'),
    # Two numbers before "GPUs": the second names the card, never a count of 3,080.
    ("can Qwen/Qwen3-32B run with 2 3080 gpus", 'unknown GPU "3080"'),
    ("can Qwen/Qwen3-32B run on 2000 gpus", "gpus=2000 is out of range"),
    ("Qwen/Qwen3-8B on a GTX 1080", 'unknown GPU "GTX 1080"'),
    ("Qwen/Qwen3-14B on apple m3 max", 'unknown GPU "apple m3"'),
    ("vllm serve Qwen/Qwen3-8B --kv-cache-memory-bytes 0.5G on an h100", "did you mean 0.5g?"),
    ("vllm serve Qwen/Qwen3-8B --kv-cache-memory-bytes 20GiB on an h100", "vLLM does not read --kv-cache-memory-bytes"),
    (
        'vllm serve Qwen/Qwen3-8B --hf-overrides \'{"rope_scaling": {"rope_type": "yarn", "factor": 4}}\' on h100',
        "add max_position_embeddings",
    ),
    ("vllm serve Qwen/Qwen3-8B --hf-overrides '{\"num_hidden_layers\": 2}' on h100", "not num_hidden_layers"),
    (
        'vllm serve Qwen/Qwen3-8B --hf-overrides \'{"rope_scaling": {"rope_type": "yarn", "factor": 4, '
        '"original_max_position_embeddings": 32768}}\' with vllm 0.30 on h100',
        "name vllm 0.29 or earlier",
    ),
    (
        'vllm serve Qwen/Qwen3-8B --hf-overrides \'{"rope_scaling": {"rope_type": "yarn", "factor": 4, '
        '"original_max_position_embeddings": 32768}, "max_position_embeddings": 160000}\' on h100',
        "is not original_max_position_embeddings x factor (32,768 x 4 = 131,072)",
    ),
    ("can Qwen/Qwen3-8B run 128k with yarn on an h100", "needs its factor"),
    (
        "vllm serve deepseek-ai/DeepSeek-V3 -tp 8 -ep --eplb-config '{\"num_redundant_experts\": 32}' on h200",
        "without --enable-eplb",
    ),
    ("vllm serve deepseek-ai/DeepSeek-V3 -tp 8 -ep --enable-eplb --num-redundant-experts 32 on h200", "have no"),
    # Zero images alone leaves video at vLLM's default: a Qwen-VL model keeps its vision tower.
    ("vllm serve ./qwen-vl --limit-mm-per-prompt '{\"image\": 0}' on h100", "leaves video at vLLM's default"),
    ("vllm serve ./qwen-vl --limit-mm-per-prompt '{\"video\": 0}' on h100", "leaves images at vLLM's default"),
    ("vllm serve ./qwen-vl --limit-mm-per-prompt.video 0 on h100", "leaves images at vLLM's default"),
    (
        "vllm serve deepseek-ai/DeepSeek-V3 -tp 8 -ep --enable-eplb --eplb-config '{\"window_size\": 10}' on h200",
        "does not read window_size",
    ),
    ("Qwen/Qwen3-8B@main --revision v2 on an L4", "name two revisions"),
    ("vllm serve qwen3 8b --revision main on an L4", "needs the model's Hub id"),
    ("Qwen/Qwen3-8B on two A6000 Ada", "unknown GPU"),
    ("Qwen/Qwen3-8B on an MI210", 'unknown GPU "MI210"'),
    ("Qwen/Qwen3-8B on a 48GB 4090", "48GB"),
    ("Qwen/Qwen3-8B on a 7900xtx", "unknown GPU"),
    ("can qwen3 32b run with sglang on an h100", "not SGLang"),
    ("Qwen/Qwen3-8B in ollama on a 4090", "not Ollama"),
    ("Qwen/Qwen3-8B with llama.cpp on a 3090", "not llama.cpp"),
    ("Qwen/Qwen3-8B on TGI", "not TGI"),
    ("Qwen/Qwen3-8B with tensorrt-llm on an H100", "not TensorRT-LLM"),
    ("Qwen/Qwen3-8B with exllamav2 on a 3090", "not ExLlama"),
    ("Qwen/Qwen3-8B with lmdeploy", "not LMDeploy"),
    ("Qwen/Qwen3-8B on an h100 or an a100", "two GPUs named"),
    ("Qwen/Qwen3-8B on a T4 and an L4", "two GPUs named"),
    ("will qwen3 32b or llama 3.3 70b fit on an h100", "two models named"),
    ("Qwen/Qwen3-8B or Qwen/Qwen3-32B on an L4", "two models named"),
    # Both values in one unit, whole tokens: vLLM's 128k is 128,000 (the grammar's would be 131,072).
    (
        "vllm serve Qwen/Qwen3-8B --max-model-len 128k --max-model-len 64000 on h100",
        '"--max-model-len 128k" and "--max-model-len 64000" both set s (s=128,000, s=64,000)',
    ),
    ("Qwen/Qwen3-8B at 32k or 64k context", "both set s (s=65,536, s=32,768)"),
    ("Qwen/Qwen3-8B for 8 users or 16 users", "both set b"),
    ("Qwen/Qwen3-8B in fp8 or in int4", "both set dtype"),
    ("Qwen/Qwen3-8B on two H100s with 4 GPUs", "both set gpus"),
    ("how much context and how many users can Qwen/Qwen3-8B take on an L4", "ask one at a time"),
    ("how much context can Qwen/Qwen3-8B take?", "on which GPU?"),
    ("how many users can Qwen/Qwen3-8B serve at 32k?", "on which GPU?"),
    ("which GPU can run Qwen/Qwen3-8B with the most users?", "ask one at a time"),
    # Training is not sized: said, not answered as serving.
    ("how many GPU hours to train Qwen/Qwen3-8B?", 'not "GPU hours"'),
    ("can I fine-tune Qwen/Qwen3-8B on an H100?", 'not "fine-tune"'),
    ("what GPU do I need for training Qwen/Qwen3-8B", 'not "training"'),
    ("how many GPUs for Qwen/Qwen3-8B for training?", 'not "training"'),
    ("max batch for Qwen/Qwen3-8B at 8k", "on which GPU?"),
    ("Qwen/Qwen3-8B for 0 users", "b=0 is out of range"),
    ("Qwen/Qwen3-8B with a context of 0", "s=0 is out of range"),
    ("Qwen/Qwen3-8B with 32m context", "is out of range"),
    ("Qwen/Qwen3-8B for 2000000 users", "is out of range"),
    ("Qwen/Qwen3-8B on 2000 H100s", "gpus=2000 is out of range"),
    ("Qwen/Qwen3-8B in 7-bit", "p=7 is not valid"),
    ("Qwen/Qwen3-8B with int4 kv cache", "kv=int4 is not valid"),
    ("Qwen/Qwen3-8B with fp4 kv", "kv=fp4 is not valid"),
    ("Qwen/Qwen3-8B with foo=bar", 'unknown key "foo"'),
    ("Qwen/Qwen3-8B with s=lots", "s=lots is not a whole number"),
    ("Qwen/Qwen3-8B on gpu=h1000", 'unknown GPU "h1000"'),
    ("Qwen/Qwen3-8B at 150% gpu memory utilization", "util=1.5 is out of range"),
    ("Qwen/Qwen3-8B with 1.5 users", "b=1.5 is not a whole number"),
    ("Qwen/Qwen3-8B with engine=sglang", "engine=sglang is not valid"),
    ("what about 128k?", "which model?"),
    # vLLM flags vram does not size are named as flags (never as a second model), with the flags it reads.
    (
        "vllm serve Qwen/Qwen3-8B --cpu-offload-gb 8 on an L4",
        'vLLM flag "--cpu-offload-gb" (it sizes the weights all on the GPU',
    ),
    ("vllm serve Qwen/Qwen3-8B --foo-bar 3 on an L4", 'vLLM flag "--foo-bar"'),
    ("vllm serve Qwen/Qwen3-8B --kv-cache-dtype", "--kv-cache-dtype needs a value"),
    ("vllm serve Qwen/Qwen3-8B --kv-cache-dtype --port 8000", "--kv-cache-dtype needs a value"),
    ("vllm serve Qwen/Qwen3-8B --kv-cache-dtype fp4", "kv=fp4 is not valid"),
    ("vllm serve Qwen/Qwen3-8B --enable-prefix-caching=true", "--enable-prefix-caching takes no value"),
    ("vllm serve Qwen/Qwen3-8B --max-model-len auto on an L4", "asks vLLM for the longest context that fits"),
    ("vllm serve ./m --quantization compressed-tensors", "vram does not read --quantization compressed-tensors"),
    (
        'vllm serve ./m --speculative-config \'{"method": "ngram", "num_speculative_tokens": 3}\'',
        'not method "ngram"',
    ),
    ('vllm serve ./m --speculative-config \'{"method": "mtp"}\'', "give num_speculative_tokens"),
    ('vllm serve ./m --speculative-config \'{"model": "./d"}\'', "give num_speculative_tokens"),
    ("vllm serve ./m --speculative-config mtp", "--speculative-config takes a JSON object"),
    ('vllm serve ./m --speculative-config \'{"method": "mtp"\'', "the JSON after --speculative-config does not close"),
    (
        'vllm serve ./m --limit-mm-per-prompt \'{"image": 2, "video": 0}\'',
        "vram reads one count for every modality (mm=)",
    ),
    ("Qwen/Qwen3-8B with vllm 0.33.x", "vllm=0.33.x is not a vLLM release"),
    ("vllm serve ./m --speculative-config.method ngram", 'not method "ngram"'),
    ("vllm serve ./m --compilation-config.mode 0", 'vLLM flag "--compilation-config.mode"'),
]


def _model_of(q) -> str:  # type: ignore[no-untyped-def]
    if q.model is None:
        return q.model_phrase
    return f"{q.model}@{q.revision}" if q.revision else q.model


@pytest.mark.parametrize(("text", "model", "settings", "kind", "unused"), READS, ids=[r[0][:60] for r in READS])
def test_reads(text: str, model: str, settings: str, kind: str, unused: tuple[str, ...]) -> None:
    q = read_question(text)
    assert (_model_of(q), q.settings_text(), q.kind, q.unused) == (model, settings, kind, unused)
    # The grammar text it shows parses, with the grammar's own parser, to the same settings.
    cmd = q.command("Qwen/Qwen3-8B" if q.model is None else None)
    assert cmd.changed == tuple(q.settings)


@pytest.mark.parametrize(("text", "words"), REFUSED, ids=[r[0][:60] or "empty" for r in REFUSED])
def test_refused_with_one_sentence(text: str, words: str) -> None:
    with pytest.raises(InputError) as caught:
        read_question(text)
    message = str(caught.value)
    assert words in message
    assert "\n" not in message


def test_table_sizes() -> None:
    assert len(READS) >= 150 and len(REFUSED) >= 50
    assert len({r[0] for r in READS}) == len(READS) and len({r[0] for r in REFUSED}) == len(REFUSED)


def test_grammar_of_a_question_is_the_grammar_command() -> None:
    q = read_question("can Qwen3-32B run 64k context for 8 users on two L40S?")
    assert q.grammar_text("Qwen/Qwen3-32B") == "Qwen/Qwen3-32B s=64k b=8 gpu=l40s gpus=2"
    assert q.command("Qwen/Qwen3-32B") == parse("Qwen/Qwen3-32B s=64k b=8 gpu=l40s gpus=2")


def test_a_flag_vram_does_not_read_lists_the_flags_it_reads() -> None:
    with pytest.raises(InputError) as caught:
        read_question("vllm serve ./qwen3_5_27b --max-model-len 65536 --cpu-offload-gb 4 on h100")
    message = str(caught.value)
    assert "two models" not in message
    for flag in ("--max-model-len", "--tensor-parallel-size", "--kv-cache-dtype", "--speculative-config"):
        assert flag in message
