"""`unnoise serve`: a page to generate images from a trained run, watching them emerge from noise.

FastAPI rather than Gradio: the page needs four JSON routes and one HTML file, and FastAPI with uvicorn is a
few small packages (the `web` extra) where Gradio brings a large front-end bundle and dozens of dependencies.

Routes: GET / (the page), GET /api/info (what the run can do and the limits), POST /api/generate (queue a
job: 400 with a message for bad values, 429 when the queue is full), GET /api/jobs/ID (status, step,
position in the queue and the newest intermediate picture), GET /api/jobs/ID/image.png (the result, to
download), POST /api/noise (the forward process for an uploaded image), POST /api/edit (a multipart form: an
editing job, web/editing.py), POST /api/variations (a multipart form: an unCLIP run's variations of a picture or walk
between two, web/variations.py).
"""
# No `from __future__ import annotations` here: FastAPI reads the route functions' annotations as objects.

import base64
import io
import ipaddress
import logging
from importlib import resources
from pathlib import Path

from ..api import Run, SampleSettings, load_run
from ..data.decoding import open_image
from ..diffusion.guidance import DEFAULT_GUIDANCE
from ..diffusion.samplers import SAMPLERS
from ..errors import UserError, check
from ..families.unclip import PRIOR_GUIDANCE
from ..viz.noising import square_pixels
from .editing import TOOLS, UPLOADS, EditRequest
from .jobs import GenerationRequest, Job, JobQueue, Limits, QueueFull, max_steps_of
from .variations import VARIATION_TOOLS, VariationRequest

log = logging.getLogger("unnoise")

MAX_UPLOAD_BYTES = 10 * 2**20
# Pixels cost memory, bytes do not tell how many: a 140 KB PNG can hold 12000x12000 (690 MB decoded). 40 megapixels
# takes any camera's photo (8K video frames are 33) and decodes in about 120 MB as RGB.
MAX_UPLOAD_PIXELS = 40_000_000
INSTALL_HINT = "the web page needs the `web` extra: pip install 'unnoise[web]' (fastapi, uvicorn, python-multipart)"


def require_web_packages() -> None:
    import importlib.util

    if not all(importlib.util.find_spec(name) for name in ("fastapi", "uvicorn", "python_multipart")):
        raise UserError(INSTALL_HINT)


def run_info(run: Run, limits: Limits) -> dict:
    condition = run.config.condition
    default = run.settings(SampleSettings())  # the run's own sampler and steps, as `unnoise sample` uses them
    return {
        "run": run.path.name,
        "family": run.family,
        "image_size": run.config.data.image_size,
        "trained_steps": run.step,
        "condition": condition.kind,
        "attributes": list(condition.attribute_names),
        "samplers": list(SAMPLERS),
        "timesteps": run.schedule.timesteps,
        # The API's defaults, within what this server allows.
        "default_guidance": min(DEFAULT_GUIDANCE, limits.max_guidance),
        "default_prior_guidance": min(PRIOR_GUIDANCE, limits.max_guidance),
        "default_sampler": default.sampler,
        "tools": list(TOOLS) if run.family == "diffusion" else [],
        "variations": list(VARIATION_TOOLS) if condition.kind == "clip" else [],  # unCLIP: from CLIP image embeddings
        "default_steps": min(run.objective.solver_steps(default), max_steps_of(run, limits)),
        "limits": {
            "max_images": limits.max_images,
            "max_steps": max_steps_of(run, limits),
            "queue_size": limits.queue_size,
            "max_guidance": limits.max_guidance,
        },
    }


def job_state(job: Job, jobs: JobQueue) -> dict:
    preview = "data:image/png;base64," + base64.b64encode(job.preview_png).decode() if job.preview_png else None
    return {
        "id": job.id,
        "status": job.status,
        "step": job.step,
        "total": job.total,
        "position": jobs.position(job),
        "previews": job.previews,
        "preview": preview,
        "error": job.error,
        "note": job.note,
        "seconds": job.seconds,
        "image_url": f"/api/jobs/{job.id}/image.png" if job.status == "done" else None,
    }


def noising_png(data: bytes, run: Run) -> bytes:
    """The forward process of an uploaded picture as the run trains on it (Run.noising_strip), as a PNG strip.

    The upload is read as every entry point reads an image (data.decoding.open_image): EXIF orientation
    applied, and refused from its header when above MAX_UPLOAD_PIXELS. Raises UserError (one line for the page) for an
    empty, too large or unreadable upload.
    """
    if not data:
        raise UserError("the upload is empty: choose an image file")
    if len(data) > MAX_UPLOAD_BYTES:
        raise UserError(f"the image is larger than {MAX_UPLOAD_BYTES // 2**20} MB")
    picture = open_image(data, MAX_UPLOAD_PIXELS)
    strip = run.noising_strip(square_pixels(picture, run.config.data.image_size))
    buffer = io.BytesIO()
    strip.save(buffer, format="PNG")
    return buffer.getvalue()


async def read_form(form) -> tuple[dict, dict[str, bytes]]:
    """A multipart form's text fields and its files' bytes (UserError naming a file over MAX_UPLOAD_BYTES)."""
    fields, uploads = {}, {}
    for name, value in form.multi_items():
        if isinstance(value, str):
            fields[name] = value
            continue
        data = await value.read(MAX_UPLOAD_BYTES + 1)
        check(len(data) <= MAX_UPLOAD_BYTES, f"{name} is larger than {MAX_UPLOAD_BYTES // 2**20} MB", name)
        uploads[name] = data
    unknown = sorted(set(uploads) - set(UPLOADS))
    check(not unknown, f"unknown files: {', '.join(unknown)}", *unknown)
    return fields, uploads


def require_images(run: Run) -> None:
    """UserError (one line at startup, not a page that fails at every request) for a run that draws no images."""
    if not run.objective.makes_images:
        raise UserError(
            f"{run.path.name} is a {run.objective.network_name} run: it draws no images, so the page has nothing to "
            "show; evaluate it with clip-eval, or serve an unCLIP run trained on it (condition.kind clip, "
            "condition.clip_run)",
            settings=("condition.kind", "condition.clip_run"),
        )


def create_app(run: Run | str | Path, limits: Limits | None = None, device: str = "auto", start_worker: bool = True):
    """The FastAPI application serving one run (a Run or its folder). UserError for a run that draws no images."""
    require_web_packages()
    from fastapi import FastAPI, File, Request, UploadFile
    from fastapi.responses import HTMLResponse, JSONResponse, Response

    run = run if isinstance(run, Run) else load_run(run, device)
    require_images(run)
    limits = limits or Limits()
    jobs = JobQueue(run, limits, start=start_worker)
    page = resources.files(__package__).joinpath("page.html").read_text()
    app = FastAPI(title="unnoise", docs_url=None, redoc_url=None)
    app.state.jobs = jobs

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.get("/", response_class=HTMLResponse)
    def index() -> str:
        return page

    @app.get("/api/info")
    def info() -> dict:
        return run_info(run, limits)

    @app.post("/api/generate")
    async def generate(request: Request):
        try:
            raw = await request.json()
        except ValueError:
            return error(400, "the request body must be JSON")
        try:
            job = jobs.submit(GenerationRequest.parse(raw, run, limits))
        except UserError as problem:
            return error(400, str(problem))
        except QueueFull as problem:
            return error(429, str(problem))
        return job_state(job, jobs)

    @app.get("/api/jobs/{job_id}")
    def status(job_id: str):
        job = jobs.jobs.get(job_id)
        return job_state(job, jobs) if job else error(404, f"no job {job_id}")

    @app.get("/api/jobs/{job_id}/image.png")
    def image(job_id: str):
        job = jobs.jobs.get(job_id)
        if job is None or job.image_png is None:
            return error(404, f"job {job_id} has no finished image")
        headers = {"Content-Disposition": f'attachment; filename="unnoise-{run.path.name}-{job_id}.png"'}
        return Response(job.image_png, media_type="image/png", headers=headers)

    async def submit_form(request: Request, parse):
        """A job from a multipart form (fields and uploads) through parse(form, uploads, run, limits, max_pixels)."""
        kind = request.headers.get("content-type", "")
        if not kind.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
            return error(
                400, f"POST {request.url.path} takes a multipart form (the page's FormData: fields and files), not JSON"
            )
        try:
            received = await request.form()
        except Exception as problem:  # starlette's parser: a missing boundary, a truncated body, ...
            return error(400, f"the multipart form could not be read: {getattr(problem, 'detail', problem)}")
        try:
            form, uploads = await read_form(received)
            job = jobs.submit(parse(form, uploads, run, limits, MAX_UPLOAD_PIXELS))
        except UserError as problem:
            return error(400, str(problem))
        except QueueFull as problem:
            return error(429, str(problem))
        return job_state(job, jobs)

    @app.post("/api/edit")
    async def edit(request: Request):
        return await submit_form(request, EditRequest.parse)

    @app.post("/api/variations")
    async def variations(request: Request):
        return await submit_form(request, VariationRequest.parse)

    @app.post("/api/noise")
    async def noise(image: UploadFile = File(...)):
        try:
            return Response(noising_png(await image.read(MAX_UPLOAD_BYTES + 1), run), media_type="image/png")
        except UserError as problem:
            return error(400, str(problem))

    return app


def serve(
    run_dir: str | Path, host: str = "127.0.0.1", port: int = 7860, limits: Limits | None = None, device: str = "auto"
) -> None:
    """Serve the page until Ctrl-C. Raises UserError for a port outside 1..65535 or a run that cannot be loaded."""
    if not 0 < port < 65536:
        raise UserError(f"port must be between 1 and 65535, got {port}", settings=("port",))
    require_web_packages()
    import uvicorn

    app = create_app(run_dir, limits, device)
    if not is_loopback(host):
        log.warning(
            f"serving on {host}: anyone who can reach this machine can use it (the default, 127.0.0.1, is local only)"
        )
    log.info(f"unnoise: serving {run_dir} at http://{host}:{port}/ (Ctrl-C stops)")
    uvicorn.run(app, host=host, port=port, log_level="warning")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
