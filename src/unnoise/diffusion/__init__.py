"""The diffusion math: noise schedules, the forward process and its posterior, losses, samplers."""
