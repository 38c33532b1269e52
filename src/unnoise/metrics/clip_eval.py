"""How good is a CLIP? Retrieval between held-out images and their captions, and zero-shot attribute classification
against the supervised attribute judge, in one result (Radford et al. 2021, sec. 3).

    result = clip_eval("runs/clip", "celeba:../shared/data/celeba", split="test", classifier="runs/judge")
    print(markdown_tables(result))

Captions repeat (attribute captions say "a photo of a smiling woman" for many faces), so a retrieved caption counts
as correct when its text equals the true caption's, and a retrieved image when its caption's text equals the
query's; `chance` says what random ranking gets under that rule.
"""

from __future__ import annotations

import torch

from ..data import open_dataset, parse_data_spec
from ..errors import UserError
from ..text.captions import ADJECTIVES, ATTRIBUTE_PHRASES, captions_for_dataset, request_caption
from .classifier import load_classifier
from .clip_judge import ClipJudge, load_clip_judge

RECALL_AT = (1, 5, 10)
HELD_OUT_CAPTION_SEED = 7919  # attribute captions worded apart from training's (seed train.seed)
NEUTRAL_PROMPT = "a photo of a person"


def recall_at(similarity: torch.Tensor, same_text: torch.Tensor, k: int) -> float:
    """Fraction of rows whose k most similar columns include a correct one. similarity, same_text: (Q, N)."""
    top = similarity.topk(min(k, similarity.shape[1]), dim=1).indices
    return same_text.gather(1, top).any(dim=1).float().mean().item()


def retrieval(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor, texts: list[str]) -> dict:
    """Recall@k both ways for N pairs (unit rows), pair i = image i and caption texts[i]."""
    codes = {text: index for index, text in enumerate(dict.fromkeys(texts))}
    labels = torch.tensor([codes[text] for text in texts])
    same_text = labels[:, None] == labels[None, :]  # (N, N): caption j is as right for image i as caption i
    similarity = image_embeddings @ text_embeddings.T
    result = {"pairs": len(texts), "distinct_captions": len(codes), "chance_at_1": same_text.float().mean().item()}
    for k in RECALL_AT:
        result[f"image_to_text_r@{k}"] = recall_at(similarity, same_text, k)
        result[f"text_to_image_r@{k}"] = recall_at(similarity.T, same_text, k)
    return result


def negated_prompt(name: str) -> str:
    """The "not" half of a prompt pair: 'a photo of a person who is not smiling', '... without eyeglasses'."""
    if name == "Male":
        return request_caption({"Male": False})
    phrase = ATTRIBUTE_PHRASES[name]
    return f"{NEUTRAL_PROMPT} {'who is not' if name in ADJECTIVES else 'without'} {phrase}"


def balanced_accuracy(predicted: torch.Tensor, present: torch.Tensor) -> float | None:
    """(TPR + TNR) / 2: 0.5 for any constant guess however rare the attribute; None where the images show only one
    of the two (no rate to balance)."""
    if present.all() or not present.any():
        return None
    return sum((predicted[present == value] == value).float().mean().item() for value in (True, False)) / 2


def zero_shot(judge: ClipJudge, image_embeddings: torch.Tensor, names: list[str], truth: torch.Tensor) -> list[dict]:
    """Per attribute: present when the image is closer to 'a photo of a smiling person' than to the other prompt of
    the pair; two pairs: against the negation, and against the neutral 'a photo of a person' (captions only ever
    word what is present). Male: 'a photo of a man' against 'a photo of a woman' in both."""
    rows = []
    for column, name in enumerate(names):
        if name not in ATTRIBUTE_PHRASES:
            continue
        positive = request_caption({name: True})
        neutral = request_caption({"Male": False}) if name == "Male" else NEUTRAL_PROMPT
        prompts = judge.embed_texts([positive, negated_prompt(name), neutral])
        closeness = image_embeddings @ prompts.T  # (N, 3)
        present = truth[:, column].bool()
        rate = present.float().mean().item()
        rows.append(
            {
                "attribute": name,
                "present": rate,
                "majority": max(rate, 1 - rate),
                "zero_shot_vs_not": ((closeness[:, 0] > closeness[:, 1]) == present).float().mean().item(),
                "zero_shot_vs_neutral": ((closeness[:, 0] > closeness[:, 2]) == present).float().mean().item(),
                "zero_shot_balanced": balanced_accuracy(closeness[:, 0] > closeness[:, 2], present),
                "prompts": [positive, negated_prompt(name), neutral],
            }
        )
    return rows


def clip_eval(
    clip,
    data: str,
    split: str | None = None,
    n: int | None = 1000,
    classifier=None,
    device: str = "cpu",
    progress: bool = True,
) -> dict:
    """{"retrieval": {...}, "zero_shot": [{attribute, present, majority, zero_shot_vs_not, zero_shot_vs_neutral,
    zero_shot_balanced, judge?, judge_balanced?}], ...} on the first n images of data's split (held out: CelebA's
    test split, builtin:N:SEED with another seed; folder captions are the folder's own). Raises UserError for data
    without captions or attributes, and for n below 2. split None: CelebA's test split, all of other data."""
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 2):
        raise UserError(f"n must be a whole number of pairs, at least 2, got {n!r}", settings=("n",))
    judge = load_clip_judge(clip, device)
    if split is None:
        split = "test" if parse_data_spec(data).kind == "celeba" else "all"
    dataset = open_dataset(data, judge.image_size, split, progress=progress, captions=True)
    count = len(dataset) if n is None else min(n, len(dataset))
    if count < 2:
        raise UserError(f"clip-eval needs at least 2 images, {data} ({split}) has {len(dataset)}", settings=("data",))
    if dataset.captions is not None:
        rows = [row for row in range(count) if dataset.captions[row]]
        texts = [dataset.captions[row][0] for row in rows]
    elif dataset.attributes is not None:
        rows = list(range(count))
        attributes = dataset.attributes[:count]
        texts = [
            first for first, *_ in captions_for_dataset(dataset.attribute_names, attributes, HELD_OUT_CAPTION_SEED, 1)
        ]
    else:
        raise UserError(f"{data} has neither captions nor attributes: nothing to retrieve", settings=("data",))
    if len(rows) < 2:
        raise UserError(f"fewer than 2 of the first {count} images of {data} have a caption", settings=("data",))
    images = dataset.images[rows]
    image_embeddings = judge.embed_images(images)
    result = {
        "clip": str(judge.path),
        "data": dataset.source,
        "split": split,
        "n": len(rows),
        "retrieval": retrieval(image_embeddings, judge.embed_texts(texts), texts),
        "zero_shot": [],
    }
    if dataset.attributes is not None:
        truth = dataset.attributes[rows]
        result["zero_shot"] = zero_shot(judge, image_embeddings, dataset.attribute_names, truth)
        if classifier is not None:
            add_judge_accuracy(
                result["zero_shot"], classifier, data, split, rows, truth, dataset.attribute_names, device
            )
    return result


def add_judge_accuracy(rows, classifier, data, split, image_rows, truth, names, device) -> None:
    """The supervised attribute judge's accuracy on the same held-out images, beside the zero-shot rows."""
    judge = load_classifier(classifier, device) if not hasattr(classifier, "predict") else classifier
    images = open_dataset(data, judge.image_size, split, progress=False).images[image_rows]
    predicted = judge.predict(images)
    for row in rows:
        if row["attribute"] in judge.attribute_names:
            column = judge.attribute_names.index(row["attribute"])
            present = truth[:, names.index(row["attribute"])].bool()
            row["judge"] = (predicted[:, column] == present).float().mean().item()
            row["judge_balanced"] = balanced_accuracy(predicted[:, column], present)


def mean_row(rows: list[dict]) -> dict:
    """The zero-shot rows' means, as one more row: balanced accuracies over the attributes that have one (both
    values present), the judge's only where it judged every attribute."""
    keys = ["present", "majority", "zero_shot_vs_not", "zero_shot_vs_neutral", "zero_shot_balanced"]
    if all("judge" in row for row in rows):
        keys += ["judge", "judge_balanced"]
    means = {}
    for key in keys:
        values = [row[key] for row in rows if row.get(key) is not None]
        means[key] = sum(values) / len(values) if values else None
    counted = sum(row["zero_shot_balanced"] is not None for row in rows)
    return {"attribute": f"**mean** ({len(rows)}; balanced: {counted})", **means}


def markdown_tables(result: dict) -> str:
    r = result["retrieval"]
    lines = [
        f"CLIP {result['clip']} on {result['data']} (split {result['split']}), {r['pairs']} image-caption pairs, "
        f"{r['distinct_captions']} distinct captions (chance at 1: {100 * r['chance_at_1']:.1f}%; a caption whose text "
        "equals the true one counts as right)",
        "",
        "| direction | R@1 | R@5 | R@10 |",
        "|---|---|---|---|",
    ]
    for direction, label in (("image_to_text", "image -> text"), ("text_to_image", "text -> image")):
        lines.append(f"| {label} | " + " | ".join(f"{100 * r[f'{direction}_r@{k}']:.1f}%" for k in RECALL_AT) + " |")
    if result["zero_shot"]:
        lines += [
            "",
            "Zero-shot: an attribute is present when the image is nearer its caption ('a photo of a smiling person') "
            "than the other prompt: its negation ('... who is not smiling'), or the neutral 'a photo of a person' "
            "(captions only ever word what is present); Male: 'man' against 'woman'. Balanced accuracy is the mean of "
            "the rates on present and absent faces: 50% for any constant guess.",
            "",
            "| attribute | present | majority guess | zero-shot vs negation | zero-shot vs neutral "
            "| zero-shot vs neutral, balanced | supervised judge | judge, balanced |",
            "|---|---|---|---|---|---|---|---|",
        ]
        rows = result["zero_shot"]
        for row in [*rows, mean_row(rows)]:
            cells = [row["present"], row["majority"], row["zero_shot_vs_not"], row["zero_shot_vs_neutral"]]
            cells += [row["zero_shot_balanced"], row.get("judge"), row.get("judge_balanced")]
            shown = " | ".join("-" if cell is None else f"{100 * cell:.1f}%" for cell in cells)
            lines.append(f"| {row['attribute']} | {shown} |")
    return "\n".join(lines)
