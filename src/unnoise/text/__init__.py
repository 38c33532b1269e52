"""The text side of conditional generation: captions from attributes, and prompts -> embeddings.

encoder.py (all-MiniLM-L6-v2 over bert.py, our plain-torch BERT), cache.py (embeddings on disk, so
training embeds each caption once), captions.py (attributes -> varied English captions), table.py (a
dataset's captions, made from attributes or given, embedded once). Needs the `text` extra for the encoder;
captions need nothing.
"""

from .cache import embed_texts_cached
from .captions import ATTRIBUTE_PHRASES, caption_for, captions_for_dataset
from .encoder import TextEmbedding, TextEncoder, load_text_encoder
from .table import CaptionTable, caption_table, given_caption_table

__all__ = [
    "ATTRIBUTE_PHRASES",
    "CaptionTable",
    "caption_table",
    "given_caption_table",
    "TextEmbedding",
    "TextEncoder",
    "caption_for",
    "captions_for_dataset",
    "embed_texts_cached",
    "load_text_encoder",
]
