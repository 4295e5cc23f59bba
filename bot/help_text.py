"""The ``vram`` help text, in a module that imports nothing: ``vram --help`` prints it without
loading the estimator, pydantic or rich (see :mod:`bot.entry`)."""

HELP = """\
vram: GPU memory for LLM inference (weights, KV cache, activations, overhead) and whether it fits.

  vram <model>[@revision] [key=value ...] [--json]
      <model> is a Hub repo id (microsoft/phi-4), a config.json, a model folder or a GGUF file
      (a .gguf file, a folder of them or a Hub repo of them: weights are the file's bytes).

  keys (aliases)                    values                                                    default
  s (seq, ctx, context)             tokens per sequence; 32k = 32768; max: the model's        4096
  b (batch, bs, batch_size, users)  concurrent sequences                                      1
  p (bits)                          2 3 4 5 6 8 16 32                                         from the checkpoint
  dtype (q, quant)                  bf16 fp16 fp32 fp8 int8 int4 nf4 mxfp4 nvfp4 awq gptq     from the checkpoint
  kv                                on off auto bf16 fp16 fp8 int8 nvfp4 int8_per_token_head  on (the model's dtype)
  fa (flash)                        on off                                                    the engine's
  n (params)                        parameter count override, billions                        from the checkpoint
  gpu                               GPU model: h100, a100-40gb, l4, ... (see gpus), or any    none
  gpus (tp)                         GPUs (vLLM: tensor parallel; transformers: layers)        1
  pp (pipeline)                     vLLM pipeline stages of gpus= GPUs each (gpus x pp)       1
  dp (replicas)                     vLLM data-parallel replicas of gpus x pp GPUs each        1
  ep (expert_parallel)              on off                                                    off
  eplb (num_redundant_experts)      vLLM EPLB redundant experts (--enable-eplb, ep=on)        off
  engine                            transformers vllm                                         transformers
  util                              vLLM gpu_memory_utilization                               1.0 (earlier 0.9/0.92)
  mnbt (max_num_batched_tokens)     vLLM max_num_batched_tokens                               vLLM's default
  seqs (max_num_seqs)               vLLM max_num_seqs                                         vLLM's default
  vllm (vllm_version)               vLLM release                                              0.34 (the newest followed)
  prefix (prefix_caching, apc)      on off                                                    the release's
  eager (enforce_eager)             on off                                                    off
  async (async_scheduling)          on off                                                    the release's
  mm (limit_mm_per_prompt, images)  vLLM items per prompt (0: text only, no vision tower)     vLLM's (999 per modality)
  mtp (num_speculative_tokens)      vLLM MTP speculative tokens (0: off)                      off
  draft (draft_model)               vLLM draft model (DFlash, EAGLE, small LM), with spec=    none
  spec (spec_tokens)                the draft model's speculative tokens                      none
  yarn (rope_yarn)                  RoPE YaRN factor[:original positions]                     none
  kvmem (kv_cache_memory_bytes)     vLLM KV pool per GPU (--kv-cache-memory-bytes)            from util
  block (block_size)                16 32 64 128 256                                          the release's
  method                            calibrated classic                                        calibrated

  engines (engine=):
    transformers  HF transformers generate (the default)
    vllm          vLLM (vllm serve): KV pool and concurrency

  vram gpus [--json]                                 the GPU catalog
  vram history [model] [mine] [--limit N] [--json]   your earlier estimates, newest first
  vram show <id> [<model>] [key=value ...] [--json]  one stored estimate again, or a what-if of it
  vram compare <model> <model> [key=value ...]       two models side by side
  vram serve                                         run the Slack app
  vram db upgrade                                    apply database migrations
  vram --version                                     the installed version

Examples:
  vram microsoft/phi-4 s=16k gpu=h100
  vram Qwen/Qwen3-30B-A3B s=32k b=8 engine=vllm gpu=h100 gpus=2
  vram meta-llama/Llama-3.1-8B dtype=nf4 kv=fp8 gpu=rtx4090
  vram Qwen/Qwen3-32B s=32k engine=vllm gpu=any      (the fewest of every card that hold it)
"""
