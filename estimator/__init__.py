"""vram's estimator: a pure, typed library that sizes GPU memory for LLM inference.

No network or database here, except :mod:`estimator.hub`, the Hub resolver at the edge.
"""
