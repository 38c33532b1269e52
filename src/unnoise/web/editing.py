"""The page's editing tools: a form with uploads in, a job like a generation's out (the same queue, the same previews).

edit (image-to-image), inpaint (a mask drawn on the page or uploaded), invert (with its reconstruction error) and
interpolate (between the seed and to_seed, or between two uploaded pictures). Every value is checked before the job
waits in line; a bad one is a one-line message naming its field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import torch

from ..api import Run
from ..data.decoding import open_image
from ..diffusion.grids import sigma_of_strength
from ..diffusion.inpainting import DEFAULT_JUMP_LENGTH, DEFAULT_RESAMPLE
from ..errors import UserError, check
from ..families.editing import deterministic, require_chain, tool_steps
from ..sampling.pictures import masks_for_run, pictures_for_run
from .jobs import GenerationRequest, Limits, Result, convert

TOOLS = ("edit", "inpaint", "invert", "interpolate")
MAX_RESAMPLE = 20  # RePaint walks each stretch this many times at most: a request's cost stays bounded
GENERATION_FIELDS = {field.name for field in fields(GenerationRequest)}
EDITING_FIELDS = {"tool", "strength", "jump_length", "resample", "to_seed"}
UPLOADS = ("image", "image2", "mask")


@dataclass
class EditRequest:
    """One editing job: the tool, the sampling fields of a generation, the pictures (uint8 at the run's size)."""

    tool: str
    base: GenerationRequest
    images: torch.Tensor | None = None  # (1 or 2, 3, S, S)
    redraw: torch.Tensor | None = None  # bool (1, 1, S, S)
    strength: float = 0.5
    jump_length: int = DEFAULT_JUMP_LENGTH
    resample: int = DEFAULT_RESAMPLE
    to_seed: int | None = None

    @property
    def preview(self) -> str:
        return self.base.preview

    @classmethod
    def parse(cls, form: dict[str, Any], uploads: dict[str, bytes], run: Run, limits: Limits, max_pixels: int):
        """A request from the page's form fields and uploaded files, or UserError with a message naming the field."""
        unknown = sorted(set(form) - GENERATION_FIELDS - EDITING_FIELDS)
        if unknown:
            raise UserError(f"unknown fields: {', '.join(unknown)}")
        tool = form.get("tool")
        check(tool in TOOLS, f"tool must be one of {', '.join(TOOLS)}, got {tool!r}", "tool")
        require_chain(run.objective)
        # No sampler (the page sends none unless one is chosen): the run's own, or DDIM for invert and interpolate
        # when the run's draws noise, as in the API; a sampler that draws noise, asked for, is refused there.
        sampling = {name: value for name, value in form.items() if name in GENERATION_FIELDS}
        if tool == "invert":
            sampling["n"] = 1
        request = cls(tool, GenerationRequest.parse(sampling, run, limits))
        given = {name: value for name, value in form.items() if name in EDITING_FIELDS and value not in (None, "")}
        defaults = cls(tool, request.base)
        for name, value in given.items():
            if name != "tool":
                setattr(
                    request, name, convert(name, value, int if name == "to_seed" else type(getattr(defaults, name)))
                )
        request.read_uploads(uploads, run, max_pixels)
        request.check(run)
        return request

    def read_uploads(self, uploads: dict[str, bytes], run: Run, max_pixels: int) -> None:
        check(
            not uploads.get("image2") or (self.tool == "interpolate" and uploads.get("image")),
            "image2 is interpolate's second picture: upload image first (edit, inpaint and invert take image only)",
            "image2",
        )
        self.images = uploaded_pictures(uploads, run, max_pixels)
        if uploads.get("mask"):
            self.redraw = masks_for_run(uploads["mask"], run.config.data.image_size)

    def check(self, run: Run) -> None:
        """What each tool needs (UserError naming the field): its pictures, a strength, a mask, two ends."""
        between_seeds = self.tool == "interpolate" and self.to_seed is not None
        if not between_seeds:
            check(self.images is not None, f"choose a picture to {self.tool}", "image")
        if self.tool == "edit":
            sigma_of_strength(self.strength)
        if self.tool == "inpaint":
            check(self.redraw is not None, "draw or upload a mask: white marks what to redraw", "mask")
            check(1 <= self.resample <= MAX_RESAMPLE, f"resample must be between 1 and {MAX_RESAMPLE}", "resample")
            check(self.jump_length >= 1, f"jump_length must be at least 1, got {self.jump_length}", "jump_length")
        if self.tool == "interpolate":
            check(self.base.n >= 2, f"n must be at least 2 to interpolate, got {self.base.n}", "n")
            if between_seeds:
                check(0 <= self.to_seed < 2**63, f"to_seed must be in [0, 2^63), got {self.to_seed}", "to_seed")
            else:
                check(
                    self.images is not None and len(self.images) == 2,
                    "interpolate between two pictures (image and image2), or give to_seed",
                    "image2",
                    "to_seed",
                )
        self.total(run)  # a sampler that draws noise for inversion, a grid too short to invert: refused before queueing

    def total(self, run: Run) -> int:
        return tool_steps(
            run.objective,
            self.tool,
            self.base.settings(run),
            strength=self.strength,
            jump_length=self.jump_length,
            resample=self.resample,
            images=self.tool == "interpolate" and self.to_seed is None,
        )

    def draw(self, run: Run, on_step) -> Result:
        settings = self.base.settings(run)
        n = settings.n  # a SampleSettings' n is not the editing tools' count: it goes as the keyword
        if self.tool == "edit":
            edits = run.edit(self.images[:1], self.strength, settings, on_step, n=n)
            return Result(torch.cat([self.images[:1], edits]), 1 + len(edits))
        if self.tool == "inpaint":
            filled = run.inpaint(self.images[:1], self.redraw, settings, self.jump_length, self.resample, on_step, n=n)
            hole = torch.where(self.redraw, torch.full_like(self.images[:1], 128), self.images[:1])
            return Result(torch.cat([self.images[:1], hole, filled]), 2 + len(filled))
        if self.tool == "invert":
            inversion = run.invert(self.images[:1], settings, on_step)
            noise = ((inversion.noise.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
            psnr = inversion.psnr[0].item()
            note = (
                f"inverted with {run.objective.describe_sampling(deterministic(run.objective, settings))}; "
                f"reconstruction error: RMSE {inversion.error[0].item():.2f} of 255 "
                f"({'exact' if math.isinf(psnr) else f'PSNR {psnr:.1f} dB'}); shown: input, noise, reconstruction"
            )
            return Result(torch.cat([self.images[:1], noise, inversion.reconstruction]), 3, note)
        if self.to_seed is not None:
            frames = run.interpolate((self.base.seed, self.to_seed), settings, on_step, n=n)
            return Result(frames, len(frames))
        frames = run.interpolate(self.images, settings, on_step, n=n)
        return Result(torch.cat([self.images[:1], frames, self.images[1:]]), len(frames) + 2)


def uploaded_pictures(uploads: dict[str, bytes], run: Run, max_pixels: int) -> torch.Tensor | None:
    """The uploads image and image2 that were given, at the run's size: uint8 (0 to 2, 3, S, S), or None for neither.
    UserError naming the upload that is not a picture or has too many pixels."""
    pictures = []
    for name in ("image", "image2"):
        if uploads.get(name):
            try:
                picture = open_image(uploads[name], max_pixels)
            except UserError as problem:
                raise UserError(f"{name}: {problem}", settings=(name,)) from None
            pictures.append(pictures_for_run(picture, run.config.data.image_size, name))
    return torch.cat(pictures) if pictures else None
