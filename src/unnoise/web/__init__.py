"""The interactive page (`unnoise serve`); needs the `web` extra."""

from .app import create_app, serve
from .jobs import GenerationRequest, JobQueue, Limits, QueueFull

__all__ = ["create_app", "serve", "GenerationRequest", "JobQueue", "Limits", "QueueFull"]
