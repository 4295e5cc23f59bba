"""What every layer of vram shares and that depends on nothing of the project: the error root."""
