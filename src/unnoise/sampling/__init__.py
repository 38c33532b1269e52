"""From a trained network to images: one validated SampleSettings, per-image seeds, condition requests, trajectories."""
