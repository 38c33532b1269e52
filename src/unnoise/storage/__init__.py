"""Files that must survive a crash: atomic writes, and network weights as safetensors (never pickle)."""
