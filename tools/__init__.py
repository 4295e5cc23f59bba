"""Development tools run from a checkout (``python -m tools.calibrate``); not installed with vram."""
