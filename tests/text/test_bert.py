import torch

# Reference numbers from Hugging Face transformers 5.24.0 (BertModel, eager attention) on the same
# weights, mean-pooled and normalised as sentence-transformers does, computed once offline.
REFERENCE = {
    "a smiling man": {
        "ids": [101, 1037, 5629, 2158, 102],
        "pooled[:8]": [0.002799, 0.080892, -0.050592, 0.018497, -0.045537, -0.062543, 0.120543, -0.003412],
        "tokens[1, :4]": [-0.117443, 0.210305, -0.548812, 0.219178],
    },
    "portrait of a woman with blond hair, wearing eyeglasses": {
        "ids": [101, 6533, 1997, 1037, 2450, 2007, 8855, 2606, 1010, 4147, 3239, 15621, 2229, 102],
        "pooled[:8]": [-0.024856, -0.011202, 0.016516, -0.024917, -0.035549, -0.003922, 0.056964, -0.039316],
        "tokens[1, :4]": [-0.463847, 1.363, 0.134573, -0.47329],
    },
}


def test_forward_matches_the_transformers_reference(encoder):
    texts = list(REFERENCE)
    embedding = encoder.encode(texts, max_tokens=64)
    for row, text in enumerate(texts):
        expected = REFERENCE[text]
        assert encoder.tokenize([text], 64)[0][0] == expected["ids"]
        pooled, tokens = embedding.pooled[row, :8], embedding.tokens[row, 1, :4]
        torch.testing.assert_close(pooled, torch.tensor(expected["pooled[:8]"]), atol=2e-6, rtol=0)
        torch.testing.assert_close(tokens, torch.tensor(expected["tokens[1, :4]"]), atol=2e-5, rtol=0)


def test_padding_token_ids_do_not_change_real_tokens(encoder):
    """The attention mask is respected: whatever sits in the padded positions, real tokens see none of it."""
    token_ids = torch.tensor([[101, 1037, 5629, 2158, 102, 0, 0, 0]])
    mask = token_ids != 0
    noisy_ids = token_ids.clone()
    noisy_ids[~mask] = torch.tensor([2450, 8855, 15621])
    clean = encoder.embed_token_ids(token_ids, mask)
    noisy = encoder.embed_token_ids(noisy_ids, mask)
    torch.testing.assert_close(noisy.tokens, clean.tokens, atol=1e-6, rtol=0)
    torch.testing.assert_close(noisy.pooled, clean.pooled, atol=1e-6, rtol=0)
    unmasked = encoder.embed_token_ids(noisy_ids, torch.ones_like(mask))
    assert (unmasked.tokens[:, :5] - clean.tokens[:, :5]).abs().max() > 1e-2  # so the check above could fail
