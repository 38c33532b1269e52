"""Training: the loop, its hooks, checkpoints, the EMA and the data order."""
