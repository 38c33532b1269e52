"""Generation jobs for the web page: a bounded queue and one worker thread, so one generation runs at a time.

A request is checked against the run and the server's limits before it is queued (a bad value is an error
message, never a crash); while a job runs, its latest intermediate picture (x_t or the predicted x_0) is kept
as a PNG for the page to show.
"""

from __future__ import annotations

import io
import itertools
import math
import queue
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import torch

from ..api import Run, SampleSettings
from ..data.transforms import images_from_model_range
from ..diffusion.guidance import DEFAULT_GUIDANCE
from ..errors import UserError, check
from ..families.unclip import refuse_prior_guidance_without_prompt
from ..sampling.requests import request_condition
from ..viz import display_scale, image_grid

PREVIEW_EVERY_S = 0.25  # newest intermediate picture at most this often: PNG encoding is not free
KEPT_JOBS = 64


@dataclass
class Limits:
    """What one request may ask for, and how many may wait: protection for the machine serving the page."""

    max_images: int = 16
    max_steps: int = 250
    queue_size: int = 8
    max_guidance: float = 20.0

    def __post_init__(self) -> None:
        for name in ("max_images", "max_steps", "queue_size"):
            check(getattr(self, name) >= 1, f"{name} must be at least 1, got {getattr(self, name)}", name)
        check(self.max_guidance >= 0, f"max_guidance must be >= 0, got {self.max_guidance}", "max_guidance")


class QueueFull(Exception):
    """More requests are waiting than the server's queue_size allows."""


@dataclass
class GenerationRequest:
    """The page's form, field by field (the names of SampleSettings, plus what the page previews)."""

    n: int = 4
    sampler: str = ""  # "": the run's default
    steps: int = 0  # 0: the run's default, at most the server's max_steps
    guidance: float = DEFAULT_GUIDANCE
    seed: int = 0
    prompt: str | None = None
    negative_prompt: str | None = None
    attrs: str | None = None
    prior_guidance: float | None = None  # unCLIP runs with a prompt; None: the run's default
    preview: str = "x_t"  # x_t | x0: which intermediate picture the page shows

    @classmethod
    def parse(cls, raw: Any, run: Run, limits: Limits) -> "GenerationRequest":
        """A request from the page's JSON, or UserError with a one-line message naming the bad field."""
        request = cls.read(raw, run, limits)
        request.check(run, limits)
        return request

    @classmethod
    def read(cls, raw: Any, run: Run, limits: Limits) -> "GenerationRequest":
        """The fields as their types, defaults filled in, unchecked (UserError naming a field that is not a number)."""
        if not isinstance(raw, dict):
            raise UserError("the request must be a JSON object")
        unknown = sorted(set(raw) - set(cls.__dataclass_fields__))
        if unknown:
            raise UserError(f"unknown fields: {', '.join(unknown)}")
        values = {name: value for name, value in raw.items() if value not in (None, "")}
        defaults = cls()
        kinds = {name: type(getattr(defaults, name)) for name in values} | {"prior_guidance": float}
        request = cls(**{name: convert(name, value, kinds[name]) for name, value in values.items()})
        # Defaults left unsaid shrink to the server's limits; values asked for explicitly are checked against them.
        if "n" not in values:
            request.n = min(request.n, limits.max_images)
        if "steps" not in values:
            default = run.objective.solver_steps(run.settings(SampleSettings(sampler=request.sampler or None)))
            request.steps = min(default, max_steps_of(run, limits))
        return request

    def check(self, run: Run, limits: Limits) -> None:
        """The server's limits, then every check the API makes (UserError naming the field)."""
        settings = self.check_sampling(run, limits)
        # Unknown attribute names, a prompt to an attribute run, guidance with no request, ...: refused now, not after
        # waiting in line.
        request_condition(
            run.config.condition,
            1,
            torch.device("cpu"),
            settings.attrs,
            settings.prompt,
            settings.negative_prompt,
            settings.guidance,
        )
        refuse_prior_guidance_without_prompt(settings)  # the prior runs in the worker: refused here, before the line

    def check_sampling(self, run: Run, limits: Limits) -> SampleSettings:
        """The server's limits and the run's checks of the sampling fields, not of the request (prompt, attrs): the
        settings as the run resolves them. UserError naming the field."""
        max_steps = max_steps_of(run, limits)
        check(  # before its range: a run without a prior takes no value of it
            self.prior_guidance is None or run.config.condition.kind == "clip",
            "prior_guidance is for unCLIP runs; this one has no prior",
            "prior_guidance",
        )
        checks = [
            (1 <= self.n <= limits.max_images, f"n must be between 1 and {limits.max_images}, got {self.n}", "n"),
            (
                run.objective.draws_in_one_pass or 1 <= self.steps <= max_steps,
                f"steps must be between 1 and {max_steps}, got {self.steps}",
                "steps",
            ),
            *(
                (
                    math.isfinite(value) and 0 <= value <= limits.max_guidance,
                    f"{name} must be between 0 and {limits.max_guidance:g}, got {value}",
                    name,
                )
                for name, value in (("guidance", self.guidance), ("prior_guidance", self.prior_guidance))
                if value is not None
            ),
            (self.preview in ("x_t", "x0"), f"preview must be x_t or x0, got {self.preview!r}", "preview"),
        ]
        for ok, message, name in checks:
            check(ok, message, name)
        settings = run.settings(self.settings(run))
        run.objective.check_sampling(settings, on_step=None)
        return settings

    def total(self, run: Run) -> int:
        """The steps a progress bar counts."""
        return run.objective.solver_steps(self.settings(run))

    def draw(self, run: Run, on_step) -> "Result":
        return Result(run.sample(self.settings(run), on_step=on_step))

    def settings(self, run: Run) -> SampleSettings:
        """The request as SampleSettings: all of its images in one batch; a one-pass run (VAE, GAN) takes n and seed
        only.
        """
        if run.objective.draws_in_one_pass:
            return SampleSettings(n=self.n, seed=self.seed, batch_size=self.n)
        return SampleSettings(
            n=self.n,
            seed=self.seed,
            batch_size=self.n,
            sampler=self.sampler or None,
            steps=self.steps,
            guidance=self.guidance,
            prompt=self.prompt,
            negative_prompt=self.negative_prompt,
            attrs=self.attrs,
            prior_guidance=self.prior_guidance,
        )


@dataclass
class Result:
    """What a job made: its pictures, how many to a row (None: a near-square grid), and a line about them."""

    images: torch.Tensor
    columns: int | None = None
    note: str | None = None


def max_steps_of(run: Run, limits: Limits) -> int:
    """The most solver steps a request may ask of this run: the server's limit, and a DDPM run's T."""
    return min(limits.max_steps, run.objective.max_steps or limits.max_steps)


def convert(name: str, value: Any, kind: type) -> Any:
    """A JSON value as the field's type: '4' and 4.0 are fine for an int, 'four' is an error naming the field."""
    try:
        if isinstance(value, bool):  # JSON true is not the number 1
            raise ValueError
        if kind is int:
            number = float(value)
            if not number.is_integer():
                raise ValueError
            return int(number)
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError, OverflowError):
        raise UserError(
            f"{name} must be {'an integer' if kind is int else 'a number' if kind is float else 'text'}, got {value!r}"
        ) from None


@dataclass
class Job:
    id: str
    request: GenerationRequest
    status: str = "queued"  # queued | running | done | failed
    step: int = 0
    total: int = 0
    previews: int = 0  # how many intermediate pictures were shown
    preview_png: bytes | None = None
    image_png: bytes | None = None
    error: str | None = None
    note: str | None = None  # what the result says besides its picture (an inversion's reconstruction error)
    seconds: float | None = None
    created: float = field(default_factory=time.time)


def png_bytes(images: torch.Tensor, image_size: int, columns: int | None = None) -> bytes:
    """uint8 images (N, 3, H, W) as one PNG grid (near-square unless columns is given), upscaled for the screen."""
    buffer = io.BytesIO()
    image_grid(images, columns, scale=display_scale(image_size, target=128)).save(buffer, format="PNG")
    return buffer.getvalue()


class JobQueue:
    """Jobs by id; a worker thread takes them in order, one at a time."""

    def __init__(self, run: Run, limits: Limits, start: bool = True):
        self.run, self.limits = run, limits
        self.waiting: queue.Queue[Job] = queue.Queue(maxsize=limits.queue_size)
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self.worker: threading.Thread | None = None
        if start:
            self.start()

    def start(self) -> None:
        self.worker = threading.Thread(target=self.work, name="unnoise-generation", daemon=True)
        self.worker.start()

    def submit(self, request: GenerationRequest) -> Job:
        total = request.total(self.run)  # known before it runs, so a waiting job's progress reads "0 of N"
        with self.lock:
            job = Job(id=f"{next(self.ids)}", request=request, total=total)
            try:
                self.waiting.put_nowait(job)
            except queue.Full:
                raise QueueFull(
                    f"{self.limits.queue_size} requests are already waiting; try again in a moment"
                ) from None
            self.jobs[job.id] = job
            while len(self.jobs) > KEPT_JOBS:  # forget the oldest finished jobs
                oldest = next((key for key, old in self.jobs.items() if old.status in ("done", "failed")), None)
                if oldest is None:
                    break
                del self.jobs[oldest]
        return job

    def position(self, job: Job) -> int:
        """How many jobs run or wait before this one (0 when it is running or finished)."""
        if job.status != "queued":
            return 0
        with self.lock:
            return sum(
                1
                for other in self.jobs.values()
                if other.status in ("queued", "running") and int(other.id) < int(job.id)
            )

    def work(self) -> None:
        while True:
            self.run_job(self.waiting.get())

    def run_job(self, job: Job) -> None:
        request, size = job.request, self.run.config.data.image_size
        job.status = "running"
        last_preview = 0.0

        def show(i: int, sigma: float, x_t: torch.Tensor, x0: torch.Tensor) -> None:
            nonlocal last_preview
            job.step = i + 1
            if time.perf_counter() - last_preview >= PREVIEW_EVERY_S or i == 0:
                job.preview_png = png_bytes(images_from_model_range(x_t if request.preview == "x_t" else x0), size)
                job.previews += 1
                last_preview = time.perf_counter()

        started = time.perf_counter()
        try:
            result = request.draw(self.run, None if self.run.objective.draws_in_one_pass else show)
            job.image_png, job.note = png_bytes(result.images, size, result.columns), result.note
            job.step, job.status = job.total, "done"
        except UserError as error:  # e.g. an attribute name the run does not know
            job.error, job.status = str(error).splitlines()[0], "failed"
        except Exception as error:  # noqa: BLE001 - the page gets a message and the worker lives on
            job.error, job.status = f"generation failed: {type(error).__name__}: {error}", "failed"
        job.seconds = time.perf_counter() - started
