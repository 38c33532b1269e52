"""Did it do what I asked? A conditional run's faithfulness and quality for each guidance scale.

For a fixed set of requests ("Smiling", "-Male,Blond_Hair", ...; a text run gets them as prompts),
each guidance scale draws the same number of images per request with the same seeds; an attribute
classifier trained on the data judges whether each requested attribute came out as asked, and FID
(when reference statistics are given) prices the guidance in image quality. Guidance 0 is the
unconditional model: its accuracy is what asking nothing gets. A run trained on captions of its own
(a folder's, with no attributes to classify) is asked free prompts instead and judged by a CLIP's
score of each image against its prompt.

    import unnoise
    table = unnoise.faithfulness("runs/attrs", "runs/classifier", scales=(0, 1, 3), ref="ref32.npz")
    table = unnoise.faithfulness("runs/cats", prompts=["a grey cat", "a cat on a sofa"], clip="runs/clip")
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import CAPTIONED_KINDS
from ..errors import UserError, check
from ..runs import Run, load_run
from ..sampling.requests import caption_of_request, parse_attribute_request, split_request
from ..sampling.settings import SampleSettings
from ..storage.atomic import make_folder, write_text_atomic
from ..text.captions import unsayable_in_caption
from ..viz import captioned_rows, display_scale, line_chart, save_png
from .classifier import AttributeClassifier, load_classifier
from .clip_judge import load_clip_judge
from .images import as_reference, evaluate_images

log = logging.getLogger("unnoise")

# Asked in this order; those a run or classifier does not know are left out (CelebA has Male, the built-in faces do
# not).
DEFAULT_REQUESTS = (
    "Smiling",
    "-Smiling",
    "Eyeglasses",
    "-Eyeglasses",
    "Male",
    "-Male",
    "Blond_Hair",
    "Black_Hair",
    "Wearing_Hat",
    "Blue_Background",
    "-Blue_Background",
    "Dark_Skin",
    "Red_Hair",
    "Smiling,Eyeglasses",
    "-Male,Blond_Hair,Smiling",
    "Male,Eyeglasses,-Smiling",
    "Dark_Skin,Red_Hair,Eyeglasses",
)
DEFAULT_SCALES = (0.0, 1.0, 2.0, 3.0, 5.0)


def usable_requests(
    run: Run, classifier: AttributeClassifier, requests=None, worded: bool = False
) -> list[dict[str, bool]]:
    """The requests, parsed, that the run can be asked and the classifier can judge (given ones must all be); worded:
    of the default ones, only those a caption can word (a text run, or a CLIP scoring the images)."""
    known = tuple(name for name in run.config.condition.attribute_names if name in classifier.attribute_names)
    if requests is not None:
        # A text run's unsayable ones fail later.
        knower = "both this run and the classifier"
        return [parse_attribute_request(request, known, "requests", knower) for request in requests]
    usable = []
    for request in DEFAULT_REQUESTS:
        wanted = split_request(request)
        if all(name in known for name in wanted) and not (worded and unsayable_in_caption(wanted)):
            usable.append(wanted)
    if not usable:
        raise UserError("none of the default requests fits this run and classifier; pass requests explicitly")
    return usable


def request_label(wanted: dict[str, bool]) -> str:
    return ",".join(("" if value else "-") + name for name, value in wanted.items())


DEFAULT_STEPS = 50  # what faithfulness samples with unless told: enough for DDPM's images, affordable per scale


def faithfulness(
    run: Run | str | Path,
    classifier: AttributeClassifier | str | Path | None = None,
    scales=DEFAULT_SCALES,
    requests=None,
    per_request: int = 16,
    settings: SampleSettings | None = None,
    reference=None,
    device: str = "auto",
    progress: bool = True,
    clip=None,
    prompts=None,
    **fields,
) -> dict:
    """{"rows": [{guidance, accuracy?, fid?, kid?, clip_score?, n, seconds, per_request}], "requests": [...], ...}
    (see the module docstring). clip: a CLIP run (folder or Run) that scores each image against its request's caption
    (CLIP score, Hessel et al. 2021); give runs compared with each other the same one.

    The judge is the attribute classifier (accuracy, per_request: each request's accuracy), or without one the CLIP
    alone, asked prompts (free text, a run trained on captions only; per_request: each prompt's CLIP score). Raises
    UserError for a run without a condition, a missing judge, prompts with a classifier or for an attribute run.

    settings (or its fields as keywords) say how to sample (steps default to DEFAULT_STEPS); its n, guidance and
    request are set here: per_request images per request and scale, request by request.
    """
    run = run if isinstance(run, Run) else load_run(run, device)
    if run.config.condition.kind == "none":
        raise UserError(
            f"{run.path} was trained without a condition (condition.kind attributes, text or clip): "
            "nothing to be faithful to",
            settings=("condition.kind",),
        )
    settings = settings or SampleSettings()
    settings = run.settings(settings if settings.steps is not None else settings.replace(steps=DEFAULT_STEPS), **fields)
    text = run.config.condition.kind in CAPTIONED_KINDS
    check_judges(classifier, clip, prompts, requests, text)
    if per_request < 1 or not scales:
        raise UserError(
            "faithfulness needs at least one image per request (per_request) and one guidance scale",
            settings=("per_request",),
        )
    classifier = classifier_for(run, classifier)
    judge = load_clip_judge(clip, run.device) if clip is not None else None
    reference = as_reference(reference) if reference is not None else None
    asked = Asked.of(run, classifier, requests, prompts, worded=text or judge is not None)
    rows, pictures = [], {}
    for scale in scales:
        started = time.perf_counter()
        images = [
            run.sample(settings.replace(n=per_request, seed=settings.seed + index, guidance=float(scale), **ask))
            for index, ask in enumerate(asked.asks(text))
        ]
        row = {"guidance": float(scale), "n": per_request * len(images), "seconds": time.perf_counter() - started}
        if classifier is not None:
            row["accuracy"], row["per_request"] = attribute_accuracy(classifier, asked.wanted, images)
            if judge is not None:
                captions = [caption for caption in asked.captions for _ in range(per_request)]
                row["clip_score"] = judge.score(torch.cat(images), captions)
        else:
            row["per_request"] = {
                prompt: judge.score(drawn, [prompt] * len(drawn)) for prompt, drawn in zip(prompts, images)
            }
            # Each prompt has per_request images: the mean of their scores is the score of all of them.
            row["clip_score"] = sum(row["per_request"].values()) / len(prompts)
        if reference is not None:
            measured = evaluate_images(torch.cat(images), reference, run.device, progress)
            row.update(fid=measured["fid"], kid=measured["kid"], ref_n=measured["ref_n"])
        if progress:
            log.info(f"guidance {scale:g}: {row_summary(row)}")
        rows.append(row)
        pictures[float(scale)] = images
    return {
        "run": str(run.path),
        "sampler": settings.solver_name,
        "prior_guidance": settings.prior_guidance,  # unCLIP runs: None is the run's default
        "steps": run.objective.solver_steps(settings),
        "per_request": per_request,
        "rows": rows,
        "requests": asked.labels(text),
        "clip": str(judge.path) if judge is not None else None,
        "classifier_accuracy": (
            {name: classifier.accuracy.get(name) for name in classifier.attribute_names}
            if classifier is not None
            else None
        ),
        "pictures": pictures,
    }


@dataclass
class Asked:
    """What faithfulness asks, one entry per request: the attributes wanted (None for a prompt) and the caption that
    words it (None where neither the run nor a CLIP reads one)."""

    wanted: list[dict[str, bool] | None]
    captions: list[str | None]

    @classmethod
    def of(cls, run: Run, classifier, requests, prompts, worded: bool) -> "Asked":
        if prompts is not None:
            return cls([None] * len(prompts), list(prompts))
        wanted = usable_requests(run, classifier, requests, worded)
        return cls(wanted, [caption_of_request(one, "requests") if worded else None for one in wanted])

    def asks(self, text: bool) -> list[dict]:
        """The sampling request of each: its caption as a prompt for a run on captions, else its attributes."""
        return [
            {"prompt": caption} if text else {"attrs": wanted} for wanted, caption in zip(self.wanted, self.captions)
        ]

    def labels(self, text: bool) -> list[str]:
        return [caption if text else request_label(wanted) for wanted, caption in zip(self.wanted, self.captions)]


def classifier_for(run: Run, classifier) -> AttributeClassifier | None:
    """The classifier (loaded from its folder where given as one), checked against the run's image size."""
    if classifier is None:
        return None
    if not isinstance(classifier, AttributeClassifier):
        classifier = load_classifier(classifier, run.device)
    if classifier.image_size != run.config.data.image_size:
        raise UserError(
            f"the classifier judges {classifier.image_size}px images, the run draws {run.config.data.image_size}px"
        )
    return classifier


def attribute_accuracy(
    classifier: AttributeClassifier, wanted_list: list[dict[str, bool]], images: list[torch.Tensor]
) -> tuple[float, dict[str, float]]:
    """(the share of requested attributes the classifier finds as asked, over all images; that share per request)."""
    per_request, hits, total = {}, 0.0, 0
    for wanted, drawn in zip(wanted_list, images):
        predicted = classifier.predict(drawn)
        columns = [classifier.attribute_names.index(name) for name in wanted]
        correct = (predicted[:, columns] == torch.tensor([wanted[name] for name in wanted])).float()
        per_request[request_label(wanted)] = correct.mean().item()
        hits, total = hits + correct.sum().item(), total + correct.numel()
    return hits / total, per_request


def row_summary(row: dict) -> str:
    """One scale's row in words, for the progress log."""
    found = [f"{100 * row['accuracy']:.1f}% of requested attributes present as asked"] if "accuracy" in row else []
    found += [f"FID {row['fid']:.1f} (n={row['n']})"] if "fid" in row else []
    found += [f"CLIP score {row['clip_score']:.1f}"] if "clip_score" in row else []
    return ", ".join(found)


def check_judges(classifier, clip, prompts, requests, text: bool) -> None:
    """A judge for what is asked: the classifier for attribute requests, a CLIP for prompts (UserError otherwise)."""
    if prompts is None:
        check(
            classifier is not None,
            "faithfulness needs a judge: classifier (make one with unnoise train-classifier) for attribute requests, "
            "or clip (a train-clip run) for prompts",
            "classifier",
            "clip",
            "prompts",
        )
        return
    check(
        text,
        "this run was trained on attributes: ask it requests, judged by classifier, not prompts",
        "requests",
        "classifier",
        "prompts",
    )
    check(
        classifier is None and requests is None,
        "give prompts with clip, or requests with classifier, not both kinds",
        "prompts",
        "clip",
        "requests",
        "classifier",
    )
    check(clip is not None, "judging prompts needs clip (a train-clip run)", "prompts", "clip")
    check(
        isinstance(prompts, (list, tuple))
        and len(prompts) > 0
        and all(isinstance(prompt, str) and prompt.strip() for prompt in prompts),
        "prompts must be a list of non-empty texts",
        "prompts",
    )
    check(len(set(prompts)) == len(prompts), "each prompt once: the table scores prompt by prompt", "prompts")


def markdown_table(result: dict) -> str:
    """The result's rows as a Markdown table: guidance, then each measure its rows hold, images and seconds."""
    has_accuracy = all("accuracy" in row for row in result["rows"])
    has_fid = any("fid" in row for row in result["rows"])
    has_clip = any("clip_score" in row for row in result["rows"])
    header = (
        "| guidance | "
        + ("requested attributes as asked | " if has_accuracy else "")
        + ("FID | " if has_fid else "")
        + ("CLIP score | " if has_clip else "")
        + "images | seconds |"
    )
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    if result.get("prior_guidance") is not None:
        lines.insert(0, f"unCLIP prior guidance {result['prior_guidance']:g}\n")
    for row in result["rows"]:
        cells = f"{100 * row['accuracy']:.1f}% | " if has_accuracy else ""
        cells += f"{row['fid']:.2f} | " if has_fid else ""
        cells += f"{row['clip_score']:.1f} | " if has_clip else ""
        lines.append(f"| {row['guidance']:g} | {cells}{row['n']} | {row['seconds']:.0f} |")
    return "\n".join(lines) + "\n"


def write_faithfulness(result: dict, out: str | Path, image_size: int, columns: int = 8) -> dict[str, Path]:
    """faithfulness.json, .md, the accuracy (and FID) curve and one grid of the requests per scale, in folder out."""
    out = Path(out)
    make_folder(out)
    written = {}
    serialisable = {key: value for key, value in result.items() if key != "pictures"}
    write_text_atomic(out / "faithfulness.json", json.dumps(serialisable, indent=2) + "\n")
    write_text_atomic(out / "faithfulness.md", markdown_table(result))
    written["table"] = out / "faithfulness.md"
    scales = [row["guidance"] for row in result["rows"]]
    # Faithfulness as its judge measured it: the classifier's accuracy, else the CLIP score.
    by_classifier = all("accuracy" in row for row in result["rows"])
    faithful = [100 * row["accuracy"] if by_classifier else row["clip_score"] for row in result["rows"]]
    measure = "% as asked" if by_classifier else "CLIP score"
    title = "requested attributes present as asked (%)" if by_classifier else "CLIP score of images and prompts"
    curve = line_chart(
        {measure: (scales, faithful)}, f"{title} against guidance scale", x_label="guidance w", log_y=False
    )
    written["curve"] = save_png(curve, out / "faithfulness.png")
    if all("fid" in row for row in result["rows"]):
        fid_curve = line_chart(
            {"FID": (scales, [row["fid"] for row in result["rows"]])},
            f"FID (n={result['rows'][0]['n']}) against guidance scale",
            x_label="guidance w",
            log_y=False,
        )
        written["fid_curve"] = save_png(fid_curve, out / "fid.png")
        # The trade-off itself: each point one guidance scale, from w = min (left, usually) to w = max.
        label = "w = " + ", ".join(f"{scale:g}" for scale in scales)
        tradeoff = line_chart(
            {label: ([row["fid"] for row in result["rows"]], faithful)},
            f"faithfulness ({measure}) against FID, one point per guidance scale",
            x_label="FID",
            log_y=False,
        )
        written["tradeoff"] = save_png(tradeoff, out / "tradeoff.png")
    for scale, images in result["pictures"].items():
        rows = [drawn[:columns] for drawn in images]
        grid = captioned_rows(rows, result["requests"], scale=display_scale(image_size))
        written[f"grid_w{scale:g}"] = save_png(grid, out / f"requests_w{scale:g}.png")
    return written
