"""Drawing one cartoon face whose attributes (hair colour, glasses, smile, ...) are plain to see at 32x32."""

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

# Hair colour is one-hot: every face has exactly one (CelebA has no Red_Hair; here it is the fourth).
HAIR_ATTRIBUTES = ["Black_Hair", "Blond_Hair", "Brown_Hair", "Red_Hair"]
ATTRIBUTE_NAMES = ["Smiling", "Eyeglasses", *HAIR_ATTRIBUTES, "Dark_Skin", "Blue_Background"]

HAIR_COLOURS = {
    "Black_Hair": (35, 30, 32),
    "Blond_Hair": (240, 205, 100),
    "Brown_Hair": (105, 58, 22),
    "Red_Hair": (200, 70, 25),
}
LIGHT_SKIN, DARK_SKIN = (250, 210, 180), (140, 95, 68)
BLUE_BACKGROUNDS = [(60, 110, 210), (90, 160, 225), (50, 80, 160)]
WARM_BACKGROUNDS = [(245, 195, 70), (235, 135, 70), (220, 105, 110), (250, 225, 130)]
SHIRT_COLOURS = [(70, 150, 80), (150, 60, 140), (90, 90, 90), (230, 230, 230), (160, 40, 40)]
FRAME_COLOURS = [(20, 20, 20), (90, 30, 30), (30, 30, 90)]
EYE_WHITE, PUPIL, MOUTH_INSIDE, TEETH, LIPS = (
    (250, 250, 250),
    (30, 25, 40),
    (90, 20, 30),
    (255, 255, 255),
    (100, 30, 35),
)

SUPERSAMPLE = 4  # drawn at 4x the target size, then box-averaged down: smooth antialiased edges


class Sketch:
    """ImageDraw with coordinates in units of the image side (0 to 1), drawn SUPERSAMPLE times larger."""

    def __init__(self, size: int, background):
        self.side = size * SUPERSAMPLE
        self.image = Image.new("RGB", (self.side, self.side), background)
        self.draw = ImageDraw.Draw(self.image)

    def box(self, x, y, x_radius, y_radius) -> list[float]:
        left, top, right, bottom = x - x_radius, y - y_radius, x + x_radius, y + y_radius
        return [left * self.side, top * self.side, right * self.side, bottom * self.side]

    def pixels(self, width: float) -> int:
        return max(1, round(width * self.side))

    def ellipse(self, x, y, x_radius, y_radius, fill=None, outline=None, width=0.0):
        self.draw.ellipse(self.box(x, y, x_radius, y_radius), fill=fill, outline=outline, width=self.pixels(width))

    def half_ellipse(self, x, y, x_radius, y_radius, fill, upper: bool):
        self.draw.chord(self.box(x, y, x_radius, y_radius), 180 if upper else 0, 360 if upper else 180, fill=fill)

    def line(self, points, fill, width: float):
        self.draw.line([(x * self.side, y * self.side) for x, y in points], fill=fill, width=self.pixels(width))

    def finish(self) -> Image.Image:
        return self.image.reduce(SUPERSAMPLE)


@dataclass
class Face:
    x: float  # centre of the face oval, in units of the image side
    y: float
    scale: float

    @property
    def x_radius(self) -> float:
        return 0.27 * self.scale

    @property
    def y_radius(self) -> float:
        return 0.34 * self.scale


def jittered(colour, rng: np.random.Generator, amount: int) -> tuple[int, int, int]:
    """colour with a shared brightness shift plus a small per-channel shift, both up to +-amount."""
    brightness = int(rng.integers(-amount, amount + 1))
    channel_shifts = rng.integers(-(amount // 2), amount // 2 + 1, size=3).tolist()
    return tuple(min(255, max(0, value + brightness + shift)) for value, shift in zip(colour, channel_shifts))


def pick(options, rng: np.random.Generator):
    return options[rng.integers(len(options))]


def shade(colour, factor: float) -> tuple[int, int, int]:
    return tuple(int(value * factor) for value in colour)


def hair_colour_name(attributes: dict[str, bool]) -> str:
    unknown = set(attributes) - set(ATTRIBUTE_NAMES)
    if unknown:
        raise ValueError(f"unknown face attributes {sorted(unknown)}; known: {ATTRIBUTE_NAMES}")
    hair = [name for name in HAIR_ATTRIBUTES if attributes.get(name)]
    if len(hair) > 1:
        raise ValueError(f"a face has one hair colour, got {hair}")
    return hair[0] if hair else "Red_Hair"


def draw_head(sketch: Sketch, face: Face, skin, hair, rng: np.random.Generator) -> None:
    """Shoulders, hair (long or short), neck, ears, face oval, and a fringe over the forehead."""
    x, y, scale = face.x, face.y, face.scale
    sketch.ellipse(x, 1.08, 0.45, 0.22, fill=jittered(pick(SHIRT_COLOURS, rng), rng, 15))
    if rng.random() < 0.5:
        sketch.ellipse(x, y + 0.06, face.x_radius + 0.08, face.y_radius + 0.1, fill=hair)
    else:
        sketch.ellipse(x, y - 0.07 * scale, face.x_radius + 0.05, face.y_radius * 0.8, fill=hair)
    sketch.draw.rectangle(sketch.box(x, y + 0.5, 0.09 * scale, 0.5), fill=shade(skin, 0.9))
    for side in (-1, 1):
        sketch.ellipse(x + side * face.x_radius, y + 0.02, 0.045 * scale, 0.065 * scale, fill=shade(skin, 0.95))
    sketch.ellipse(x, y, face.x_radius, face.y_radius, fill=skin)
    hairline = y - face.y_radius * rng.uniform(0.45, 0.6)
    sketch.half_ellipse(x, hairline, face.x_radius * 1.08, 0.25 * scale, fill=hair, upper=True)


def draw_eyes(sketch: Sketch, face: Face, hair, rng: np.random.Generator, eyeglasses: bool) -> None:
    x, scale = face.x, face.scale
    eye_y, eye_offset = face.y - 0.01 * scale, 0.11 * scale
    for side in (-1, 1):
        eye_x = x + side * eye_offset
        sketch.ellipse(eye_x, eye_y, 0.055 * scale, 0.04 * scale, fill=EYE_WHITE)
        sketch.ellipse(eye_x + rng.uniform(-0.01, 0.01), eye_y, 0.028 * scale, 0.03 * scale, fill=PUPIL)
        brow_y = eye_y - 0.085 * scale  # slightly raised at the outer end
        brow = [(eye_x - 0.05 * scale, brow_y + 0.005), (eye_x + 0.05 * scale, brow_y - 0.005 * side)]
        sketch.line(brow, shade(hair, 0.7), 0.022)
    if eyeglasses:  # two rings, a bridge, and arms reaching the ears
        frame, ring = pick(FRAME_COLOURS, rng), 0.085 * scale
        for side in (-1, 1):
            sketch.ellipse(x + side * eye_offset, eye_y, ring, 0.07 * scale, outline=frame, width=0.025)
            sketch.line(
                [(x + side * (eye_offset + ring), eye_y), (x + side * face.x_radius, eye_y - 0.01)], frame, 0.02
            )
        sketch.line([(x - eye_offset + ring, eye_y), (x + eye_offset - ring, eye_y)], frame, 0.025)


def draw_nose_and_mouth(sketch: Sketch, face: Face, skin, smiling: bool) -> None:
    x, scale = face.x, face.scale
    sketch.ellipse(x, face.y + 0.085 * scale, 0.025 * scale, 0.035 * scale, fill=shade(skin, 0.8))
    mouth_y = face.y + 0.19 * scale
    if smiling:  # an open smile: a dark half disc with a row of teeth
        sketch.half_ellipse(x, mouth_y, 0.12 * scale, 0.1 * scale, fill=MOUTH_INSIDE, upper=False)
        sketch.line([(x - 0.095 * scale, mouth_y + 0.012), (x + 0.095 * scale, mouth_y + 0.012)], TEETH, 0.025)
    else:
        sketch.line([(x - 0.075 * scale, mouth_y), (x + 0.075 * scale, mouth_y)], LIPS, 0.03)


def draw_face(attributes: dict[str, bool], size: int, rng: np.random.Generator) -> Image.Image:
    """A size x size RGB cartoon face showing the given attributes (missing ones are False; no hair
    colour means Red_Hair); position, proportions and exact colours are jittered from rng."""
    hair = jittered(HAIR_COLOURS[hair_colour_name(attributes)], rng, 12)
    skin = jittered(DARK_SKIN if attributes.get("Dark_Skin") else LIGHT_SKIN, rng, 10)
    backgrounds = BLUE_BACKGROUNDS if attributes.get("Blue_Background") else WARM_BACKGROUNDS
    sketch = Sketch(size, background=jittered(pick(backgrounds, rng), rng, 15))
    scale = rng.uniform(0.98, 1.12)
    face = Face(x=0.5 + rng.uniform(-0.04, 0.04), y=0.54 + rng.uniform(-0.03, 0.03), scale=scale)
    draw_head(sketch, face, skin, hair, rng)
    draw_eyes(sketch, face, hair, rng, eyeglasses=bool(attributes.get("Eyeglasses")))
    draw_nose_and_mouth(sketch, face, skin, smiling=bool(attributes.get("Smiling")))
    return sketch.finish()
