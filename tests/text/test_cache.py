import torch

from unnoise.data.warn import collected_warnings
from unnoise.text import embed_texts_cached


class CountingEncoder:
    """The real encoder, counting the prompts it is asked to embed."""

    def __init__(self, encoder):
        self.encoder = encoder
        self.model_sha256 = encoder.model_sha256
        self.width = encoder.width
        self.embedded: list[str] = []

    def encode(self, texts, max_tokens):
        self.embedded.extend(texts)
        return self.encoder.encode(texts, max_tokens)


def test_cached_embeddings_skip_the_encoder_and_match_it(encoder, tmp_path):
    counting = CountingEncoder(encoder)
    texts = ["a smiling man", "a woman with bangs", "a smiling man", "a face"]
    first = embed_texts_cached(texts, counting, max_tokens=32, cache_dir=tmp_path)
    assert sorted(counting.embedded) == ["a face", "a smiling man", "a woman with bangs"]  # duplicates once

    counting.embedded.clear()
    second = embed_texts_cached(texts, counting, max_tokens=32, cache_dir=tmp_path)
    assert counting.embedded == []
    direct = encoder.encode(texts, 32)
    for cached in (first, second):
        assert torch.equal(cached.mask, direct.mask)
        torch.testing.assert_close(cached.tokens, direct.tokens, atol=1e-5, rtol=0)
        torch.testing.assert_close(cached.pooled, direct.pooled, atol=1e-6, rtol=0)

    embed_texts_cached(["a face", "a bald man"], counting, max_tokens=32, cache_dir=tmp_path)
    assert counting.embedded == ["a bald man"]
    embed_texts_cached(["a face"], counting, max_tokens=16, cache_dir=tmp_path)  # another max_tokens, another entry
    assert counting.embedded == ["a bald man", "a face"]


def test_a_damaged_cache_file_is_embedded_again(encoder, tmp_path):
    counting = CountingEncoder(encoder)
    embed_texts_cached(["a smiling man"], counting, max_tokens=32, cache_dir=tmp_path)
    (stored,) = (tmp_path / "text-embeddings").rglob("*.safetensors")
    stored.write_bytes(b"not a safetensors file")
    with collected_warnings() as warnings:
        again = embed_texts_cached(["a smiling man"], counting, max_tokens=32, cache_dir=tmp_path)
    assert len(warnings) == 1 and "unreadable" in warnings[0]
    assert counting.embedded == ["a smiling man", "a smiling man"]
    torch.testing.assert_close(again.pooled, encoder.encode(["a smiling man"]).pooled, atol=1e-6, rtol=0)
