"""The page's unCLIP tools: variations of an uploaded picture, drawn from its CLIP image embedding, and a walk between
two pictures' embeddings (Run.variations, Run.embedding_walk; Ramesh et al. 2022, 3.1 and 3.2).

A form with uploads in, a job like a generation's out: the same queue, progress and previews as the editing tools
(web/editing.py). Every value is checked before the job waits in line; a bad one is a one-line message naming its field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ..api import Run
from ..errors import UserError, check
from ..families.unclip import require_unclip
from .editing import GENERATION_FIELDS, uploaded_pictures
from .jobs import GenerationRequest, Limits, Result

VARIATION_TOOLS = ("variations", "walk")
# A generation's request (and the prior's guidance of it): variations come from a picture.
REQUEST_FIELDS = ("prompt", "negative_prompt", "attrs", "prior_guidance")


@dataclass
class VariationRequest:
    """One unCLIP job: the tool, the sampling fields of a generation, the pictures (uint8 at the run's size)."""

    tool: str
    base: GenerationRequest
    images: torch.Tensor | None = None  # (1 or 2, 3, S, S)

    @property
    def preview(self) -> str:
        return self.base.preview

    @classmethod
    def parse(cls, form: dict[str, Any], uploads: dict[str, bytes], run: Run, limits: Limits, max_pixels: int):
        """A request from the page's form fields and uploaded files, or UserError with a message naming the field."""
        require_unclip(run.objective)  # names condition.kind: a run not trained on CLIP embeddings has no variations
        unknown = sorted(set(form) - GENERATION_FIELDS - {"tool"})
        if unknown:
            raise UserError(f"unknown fields: {', '.join(unknown)}")
        tool = form.get("tool") or "variations"
        check(tool in VARIATION_TOOLS, f"tool must be one of {', '.join(VARIATION_TOOLS)}, got {tool!r}", "tool")
        asked = [name for name in REQUEST_FIELDS if form.get(name) not in (None, "")]
        check(
            not asked, f"variations and walks come from pictures, not a request: leave out {', '.join(asked)}", *asked
        )
        check(not uploads.get("mask"), "variations and walks take no mask (inpainting does: Edit a picture)", "mask")
        sampling = {name: value for name, value in form.items() if name in GENERATION_FIELDS}
        # Guidance needs no prompt here: it steers the decoder towards the picture's embedding.
        request = cls(tool, GenerationRequest.read(sampling, run, limits))
        request.base.check_sampling(run, limits)
        check(bool(uploads.get("image")), "choose a picture (image)", "image")  # image2 alone is not one either
        request.images = uploaded_pictures(uploads, run, max_pixels)
        request.check()
        return request

    def check(self) -> None:
        """The pictures each tool needs, and a walk's two ends (UserError naming the field)."""
        if self.tool == "variations":
            check(len(self.images) == 1, "variations take one picture: leave out image2 (the walk's second)", "image2")
            return
        check(len(self.images) == 2, "a walk goes between two pictures: upload image2 too", "image2")
        check(self.base.n >= 2, f"n must be at least 2 for a walk (its frames), got {self.base.n}", "n")

    def total(self, run: Run) -> int:
        """The steps a progress bar counts: every frame of a walk runs the decoder's whole chain."""
        steps = self.base.total(run)
        return steps if self.tool == "variations" else self.base.n * steps

    def draw(self, run: Run, on_step) -> Result:
        settings = self.base.settings(run)
        n = settings.n  # a SampleSettings' n is not these tools' count: it goes as the keyword
        if self.tool == "variations":
            made = run.variations(self.images, settings, on_step, n=n)
            return Result(torch.cat([self.images, made]), 1 + len(made))
        frames = run.embedding_walk(self.images, settings, counting(on_step), n=n)
        return Result(torch.cat([self.images[:1], frames, self.images[1:]]), len(frames) + 2)


def counting(on_step):
    """on_step with its step numbers running on across calls: a walk decodes each frame from step 0 again."""
    if on_step is None:
        return None
    done = 0

    def counted(i, sigma, x_t, x0):
        nonlocal done
        on_step(done, sigma, x_t, x0)
        done += 1

    return counted
