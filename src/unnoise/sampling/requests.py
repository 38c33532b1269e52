"""From what a user asks for ("Smiling,Eyeglasses,-Male", "a smiling woman") to the Condition a network reads."""

from __future__ import annotations

import torch

from ..config import ConditionConfig
from ..diffusion.guidance import DEFAULT_GUIDANCE
from ..errors import UserError
from ..models.conditioning import ABSENT, PRESENT, UNKNOWN, Condition


def split_request(request: str | list[str], setting: str = "attrs") -> dict[str, bool]:
    """'Smiling,-Male' (or ['Smiling', '-Male']) -> {'Smiling': True, 'Male': False}, names unchecked. UserError
    naming `setting` for a name asked both ways (Smiling,-Smiling)."""
    parts = request.split(",") if isinstance(request, str) else list(request)
    wanted: dict[str, bool] = {}
    for part in (part.strip() for part in parts):
        if not part:
            continue
        name, present = part.lstrip("+-"), not part.startswith("-")
        if wanted.get(name, present) != present:
            raise UserError(f"{setting} asks for {name} and for its absence; keep one", settings=(setting,))
        wanted[name] = present
    return wanted


def parse_attribute_request(
    request: str | list[str] | dict[str, bool],
    valid: tuple[str, ...],
    setting: str = "attrs",
    known_by: str = "this run",
) -> dict[str, bool]:
    """'Smiling,Eyeglasses,-Male' (or a list of those names, or {name: bool}) -> {name: wanted}; names are checked.

    UserError, naming `setting` (where the request came from: attrs, or faithfulness's requests) and who knows the
    valid names, for an unknown name or an empty request.
    """
    wanted = dict(request) if isinstance(request, dict) else split_request(request, setting)
    unknown = [name for name in wanted if name not in valid]
    if unknown:
        names = ", ".join(valid)
        known = f"known to {known_by}: {names} (prefix - to ask for its absence)" if valid else f"{known_by} knows none"
        raise UserError(f"{setting} names an unknown attribute {unknown[0]!r}; {known}", settings=(setting,))
    if not wanted:
        raise UserError(f"{setting} names no attribute; e.g. Smiling,-Eyeglasses", settings=(setting,))
    return wanted


def attribute_vector(wanted: dict[str, bool], names: tuple[str, ...]) -> torch.Tensor:
    """{name: wanted} -> (A,) with +1 wanted, -1 unwanted and 0 for attributes not mentioned."""
    return torch.tensor([(PRESENT if wanted[name] else ABSENT) if name in wanted else UNKNOWN for name in names])


def request_condition(
    config: ConditionConfig,
    count: int,
    device: torch.device,
    attrs=None,
    prompt: str | None = None,
    negative_prompt: str | None = None,
    guidance: float = DEFAULT_GUIDANCE,
) -> tuple[Condition | None, Condition | None]:
    """(condition, baseline) for count images of one request: baseline is the negative prompt, or None for the null one.

    A run trained on captions made from attributes also takes attrs, asked as the caption that names them ("a photo of
    a smiling woman"); one trained on a folder's own captions takes prompts only.
    Raises UserError naming the setting for a request the run cannot take, and for a guidance scale other than the
    default with nothing to guide towards (it would change nothing, silently).
    """
    kind = config.kind
    if kind == "clip":
        refuse_negative_prompt(negative_prompt)
    if attrs is None and prompt is None:
        if negative_prompt is not None:
            raise UserError("negative_prompt needs a prompt", settings=("negative_prompt", "prompt"))
        if guidance != DEFAULT_GUIDANCE:
            towards = "attrs or a prompt" if kind != "none" else "a condition, and this run was trained without one"
            raise UserError(
                f"guidance {guidance:g} steers samples towards a request, so it needs {towards}",
                settings=("guidance", "attrs", "prompt"),
            )
        return None, None
    if kind == "none":
        raise UserError(
            "this run was trained without a condition, so it takes no attrs or prompt", settings=("attrs", "prompt")
        )
    if kind == "attributes":
        if prompt is not None or negative_prompt is not None:
            raise UserError(
                "this run was trained on attributes: ask with attrs, e.g. Smiling,-Male", settings=("attrs",)
            )
        vector = attribute_vector(parse_attribute_request(attrs, config.attribute_names), config.attribute_names)
        null = torch.zeros(count, dtype=torch.bool, device=device)
        return Condition(null, attributes=vector.to(device).expand(count, -1).clone()), None
    prompt = prompt_of_request(config, attrs, prompt)
    condition = prompt_condition(prompt, count, config.max_tokens, device)
    baseline = (
        prompt_condition(negative_prompt, count, config.max_tokens, device) if negative_prompt is not None else None
    )
    return condition, baseline


def prompt_of_request(config: ConditionConfig, attrs, prompt: str | None) -> str:
    """What a run trained on captions (text, unCLIP) is asked: the prompt, or attrs worded as the caption that names
    them. UserError for both, or for attrs to a run trained on a folder's own captions (it knows no attributes)."""
    if attrs is None:
        return prompt
    if prompt is not None:
        raise UserError("ask with attrs or with prompt, not both", settings=("attrs", "prompt"))
    if not config.attribute_names:
        raise UserError(
            "this run was trained on its data's own captions, not on attributes: ask with prompt",
            settings=("attrs", "prompt"),
        )
    return caption_of_request(parse_attribute_request(attrs, config.attribute_names))


def refuse_negative_prompt(negative_prompt: str | None) -> None:
    """unCLIP's prior draws one image embedding per image: there is no second prompt to guide away from."""
    if negative_prompt is not None:
        raise UserError(
            "an unCLIP run takes no negative_prompt (its prior draws one image embedding per image)",
            settings=("negative_prompt",),
        )


def caption_of_request(wanted: dict[str, bool], setting: str = "attrs") -> str:
    """An attribute request as the caption a text run was trained on; only present ones (and -Male) can be said.
    UserError naming `setting` (where the request came from) for one that cannot."""
    from ..text.captions import request_caption

    try:
        return request_caption(wanted)
    except ValueError as error:
        raise UserError(
            f"{error}: {setting} to a run trained on captions can ask for attributes that are present (and -Male)",
            settings=(setting,),
        ) from None


def prompt_condition(prompt: str, count: int, max_tokens: int, device: torch.device) -> Condition:
    """A prompt through the frozen text encoder (the text extra), once, as a Condition of count rows."""
    from ..text import load_text_encoder

    embedded = load_text_encoder("cpu").encode([prompt], max_tokens).to(device)
    rows = [0] * count
    null = torch.zeros(count, dtype=torch.bool, device=device)
    return Condition(null, tokens=embedded.tokens[rows], token_mask=embedded.mask[rows], pooled=embedded.pooled[rows])
