"""vram's estimator: a pure, typed library that sizes GPU memory for LLM inference.

Config in, numbers out: no network, no files, no database, no environment, no threads. Reading
models (the Hub, local folders, GGUF and safetensors headers) is :mod:`sources`' work.
"""
