"""Captions from face attributes: "a photo of a smiling woman with blond hair", "portrait of a man wearing eyeglasses".

A caption names only attributes whose value is 1, in positive words ("clean-shaven", never "no
beard"), and only some of them: each present attribute is mentioned with a probability that is
higher for the salient ones (gender, hair colour, smile, glasses, ...), at most MAX_MENTIONS, and
at least one when any is present. Male is the one attribute whose 0 is worded too ("woman"), as
it picks the noun (else "person" or "face").
Attribute names that are not in ATTRIBUTE_PHRASES are skipped: a generic rendering of an unknown
name could read as its opposite ("No_Beard" -> "with no beard").
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import torch

# The words a caption uses for each attribute at value 1, verbatim, so a caption can be searched
# for them (match whole words: "man" is inside "woman"). CelebA's 40 names plus the built-in faces'.
ATTRIBUTE_PHRASES: dict[str, str] = {
    "5_o_Clock_Shadow": "stubble",
    "Arched_Eyebrows": "arched eyebrows",
    "Attractive": "attractive",
    "Bags_Under_Eyes": "bags under the eyes",
    "Bald": "bald",
    "Bangs": "bangs",
    "Big_Lips": "big lips",
    "Big_Nose": "a big nose",
    "Black_Hair": "black hair",
    "Blond_Hair": "blond hair",
    "Blurry": "blurry",
    "Brown_Hair": "brown hair",
    "Bushy_Eyebrows": "bushy eyebrows",
    "Chubby": "chubby",
    "Double_Chin": "a double chin",
    "Eyeglasses": "eyeglasses",
    "Goatee": "a goatee",
    "Gray_Hair": "gray hair",
    "Heavy_Makeup": "heavy makeup",
    "High_Cheekbones": "high cheekbones",
    "Male": "man",
    "Mouth_Slightly_Open": "a slightly open mouth",
    "Mustache": "a mustache",
    "Narrow_Eyes": "narrow eyes",
    "No_Beard": "clean-shaven",
    "Oval_Face": "an oval face",
    "Pale_Skin": "pale skin",
    "Pointy_Nose": "a pointy nose",
    "Receding_Hairline": "a receding hairline",
    "Rosy_Cheeks": "rosy cheeks",
    "Sideburns": "sideburns",
    "Smiling": "smiling",
    "Straight_Hair": "straight hair",
    "Wavy_Hair": "wavy hair",
    "Wearing_Earrings": "earrings",
    "Wearing_Hat": "a hat",
    "Wearing_Lipstick": "lipstick",
    "Wearing_Necklace": "a necklace",
    "Wearing_Necktie": "a necktie",
    "Young": "young",
    "Red_Hair": "red hair",
    "Dark_Skin": "dark skin",
    "Blue_Background": "a blue background",
}
FEMALE_PHRASE = "woman"  # Male = 0

# Where each phrase goes; attributes not listed here are "with" phrases ("a man with a goatee").
ADJECTIVES = ["Attractive", "Chubby", "Young", "Smiling", "Bald", "No_Beard"]  # in English adjective order
WEARING = {"Eyeglasses", "Wearing_Earrings", "Wearing_Hat", "Wearing_Lipstick", "Wearing_Necklace", "Wearing_Necktie"}
BACKGROUND = {"Blue_Background"}  # "... on a blue background"
PHOTO = {"Blurry"}  # "a blurry photo of ..."
FACIAL_HAIR = {"5_o_Clock_Shadow", "Goatee", "Mustache", "Sideburns"}  # CelebA sometimes also marks these No_Beard

# Probability of mentioning a present attribute: what a person describing the face would say first.
SALIENT = {
    "Male", "Smiling", "Eyeglasses", "Young", "Bald", "Black_Hair", "Blond_Hair", "Brown_Hair", "Gray_Hair",
    "Red_Hair", "Wearing_Hat", "Mustache", "Goatee", "Bangs", "Dark_Skin", "Blue_Background",
}  # fmt: skip
SALIENT_PROBABILITY = 0.8
OTHER_PROBABILITY = 0.3
MAX_MENTIONS = 5

PREFIXES = ["a photo of ", "a portrait of ", "portrait of ", "a picture of ", "a close-up photo of ", ""]
NEUTRAL_NOUNS = ["person", "face"]
TRAILING_ADJECTIVES_PROBABILITY = 0.3  # "a face with black hair, smiling"
WEARING_FIRST_PROBABILITY = 0.3  # "a man wearing a hat, with a goatee"

Rng = random.Random | np.random.Generator


def uniform(rng: Rng) -> float:
    return float(rng.random())


def index_below(rng: Rng, count: int) -> int:
    return int(rng.integers(count)) if isinstance(rng, np.random.Generator) else rng.randrange(count)


def shuffled(rng: Rng, items: list) -> list:
    items = list(items)
    for last in range(len(items) - 1, 0, -1):
        other = index_below(rng, last + 1)
        items[last], items[other] = items[other], items[last]
    return items


def join_and(phrases: list[str]) -> str:
    """['a'] -> 'a'; ['a', 'b', 'c'] -> 'a, b and c'."""
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def with_article(words: str) -> str:
    return ("an " if words[0] in "aeiou" else "a ") + words


def present_attributes(attribute_names: list[str], values: Sequence[int]) -> dict[str, bool]:
    """{name: value == 1} for the known attribute names; ValueError for values other than 0 and 1."""
    if len(values) != len(attribute_names):
        raise ValueError(f"{len(values)} values for {len(attribute_names)} attribute names")
    present = {}
    for name, value in zip(attribute_names, values):
        if int(value) not in (0, 1):
            raise ValueError(f"attribute values must be 0 or 1, got {value!r} for {name}")
        if name in ATTRIBUTE_PHRASES:
            present[name] = int(value) == 1
    return present


def choose_mentions(present: dict[str, bool], rng: Rng) -> list[str]:
    """A random subset of the present attributes: salient ones often, others sometimes, 1 to MAX_MENTIONS."""
    candidates = [name for name, value in present.items() if value]
    if "No_Beard" in candidates and (not present.get("Male", True) or any(present.get(name) for name in FACIAL_HAIR)):
        candidates.remove("No_Beard")  # no "clean-shaven woman", no "clean-shaven man with a goatee"
    weight = {name: SALIENT_PROBABILITY if name in SALIENT else OTHER_PROBABILITY for name in candidates}
    chosen = [name for name in candidates if uniform(rng) < weight[name]]
    if not chosen and candidates:
        chosen = [candidates[index_below(rng, len(candidates))]]
    chosen = shuffled(rng, chosen)
    chosen.sort(key=lambda name: name not in SALIENT)  # stable: a random order within each group
    return chosen[:MAX_MENTIONS]


def choose_noun(present: dict[str, bool], mentioned: set[str], rng: Rng) -> str:
    """'man' when Male is mentioned; 'woman' as often as a salient attribute when Male is 0; else neutral."""
    if "Male" in mentioned:
        return ATTRIBUTE_PHRASES["Male"]
    if present.get("Male") is False and uniform(rng) < SALIENT_PROBABILITY:
        return FEMALE_PHRASE
    if "Oval_Face" in mentioned:  # not "a face with an oval face"
        return "person"
    return NEUTRAL_NOUNS[index_below(rng, len(NEUTRAL_NOUNS))]


def caption_for(attribute_names: list[str], values: Sequence[int], rng: Rng) -> str:
    """One caption naming a random subset of the present attributes (see the module docstring)."""
    present = present_attributes(attribute_names, values)
    mentioned = set(choose_mentions(present, rng))
    return render_caption(choose_noun(present, mentioned, rng), mentioned, rng)


def unsayable_in_caption(wanted: dict[str, bool]) -> list[str]:
    """The parts of a request no caption words: names without a phrase, and absences other than -Male."""
    unknown = sorted(name for name in wanted if name not in ATTRIBUTE_PHRASES)
    absent = sorted("-" + name for name, value in wanted.items() if not value and name != "Male")
    return unknown + absent


def request_caption(wanted: dict[str, bool]) -> str:
    """The caption asking for exactly the wanted attributes, e.g. {Smiling: 1, Male: 0} -> 'a photo of a smiling woman'.

    Only Male can be asked for as absent (as "woman"): captions never word an absence otherwise.
    """
    unsayable = unsayable_in_caption(wanted)
    if unsayable:
        raise ValueError(f"a caption cannot ask for {', '.join(unsayable)}")
    mentioned = {name for name, value in wanted.items() if value}
    noun = ATTRIBUTE_PHRASES["Male"] if "Male" in mentioned else FEMALE_PHRASE if "Male" in wanted else "person"
    return render_caption(noun, mentioned, random.Random(0), prefix="a photo of ")


def render_caption(noun: str, mentioned: set[str], rng: Rng, prefix: str | None = None) -> str:
    """The English for a noun and the attributes to mention; rng picks the word order and prefix (unless given)."""
    adjectives = [ATTRIBUTE_PHRASES[name] for name in ADJECTIVES if name in mentioned]
    others = shuffled(rng, sorted(mentioned - set(ADJECTIVES) - BACKGROUND - PHOTO - {"Male"}))
    withs = [ATTRIBUTE_PHRASES[name] for name in others if name not in WEARING]
    wearings = [ATTRIBUTE_PHRASES[name] for name in others if name in WEARING]

    trailing = bool(adjectives) and uniform(rng) < TRAILING_ADJECTIVES_PROBABILITY
    subject = with_article(noun if trailing else " ".join([*adjectives, noun]))
    details = []
    if withs:
        details.append("with " + join_and(withs))
    if wearings:
        details.insert(0 if uniform(rng) < WEARING_FIRST_PROBABILITY else len(details), "wearing " + join_and(wearings))
    caption = " ".join([subject, ", ".join(details)]) if details else subject
    if trailing:
        caption += ", " + join_and(adjectives)
    if mentioned & BACKGROUND:
        caption += " on " + ATTRIBUTE_PHRASES["Blue_Background"]
    if prefix is None:
        prefix = "a blurry photo of " if mentioned & PHOTO else PREFIXES[index_below(rng, len(PREFIXES))]
    return prefix + caption


def captions_for_dataset(
    attribute_names: list[str], attributes: torch.Tensor | np.ndarray, seed: int, per_image: int = 4
) -> list[list[str]]:
    """per_image captions for each row of attributes (N, A) in {0, 1}, distinct where the attributes allow.

    Image n's captions depend only on (seed, n), so the first 100 images of a larger set get the
    same captions as a set of those 100 alone.
    """
    rows = attributes.tolist()
    if rows and len(rows[0]) != len(attribute_names):
        raise ValueError(f"attributes have {len(rows[0])} columns for {len(attribute_names)} attribute names")
    captions = []
    for index, values in enumerate(rows):
        rng = random.Random(f"{seed}:{index}")  # str seeds hash with sha512: the same in every process
        image_captions: list[str] = []
        for _ in range(10 * per_image):  # few attributes allow few captions; then some repeat
            caption = caption_for(attribute_names, values, rng)
            if caption not in image_captions:
                image_captions.append(caption)
            if len(image_captions) == per_image:
                break
        while len(image_captions) < per_image:
            image_captions.append(image_captions[len(image_captions) % len(image_captions)])
        captions.append(image_captions)
    return captions
