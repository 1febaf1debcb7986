"""Attention kernels and modules: equal to the textbook formulas, masks, permutations, errors."""

import math

import pytest
import torch
import torch.nn.functional as F

from rvit.attention import (
    MultiHeadAttention,
    TransformerBlock,
    elu_feature_map,
    linear_attention,
    softmax_attention,
)


def close(a, b, atol=1e-5):
    torch.testing.assert_close(a, b, atol=atol, rtol=0)


def qkv(b=2, h=3, n=5, m=7, d=4, dtype=torch.float32):
    return (
        torch.randn(b, h, n, d, dtype=dtype),
        torch.randn(b, h, m, d, dtype=dtype),
        torch.randn(b, h, m, d, dtype=dtype),
    )


def test_elu_feature_map_is_positive_and_elu_plus_one():
    x = torch.linspace(-20, 5, 101)
    assert (elu_feature_map(x) > 0).all()
    close(elu_feature_map(x), F.elu(x) + 1)


def test_elu_feature_map_gradient_is_elus_and_checks_numerically():
    x = torch.linspace(-12, 4, 97, dtype=torch.float64).requires_grad_()
    (grad,) = torch.autograd.grad(elu_feature_map(x).sum(), x)
    reference = x.detach().clone().requires_grad_()
    (expected,) = torch.autograd.grad((F.elu(reference) + 1).sum(), reference)
    torch.testing.assert_close(grad, expected)
    assert torch.autograd.gradcheck(
        elu_feature_map, ((torch.randn(40, dtype=torch.float64) * 5).requires_grad_(),)
    )
    assert torch.autograd.gradgradcheck(
        elu_feature_map, (torch.randn(20, dtype=torch.float64).requires_grad_(),)
    )


def test_linear_attention_equals_the_quadratic_formula():
    q, k, v = qkv(dtype=torch.float64)
    scores = elu_feature_map(q) @ elu_feature_map(k).transpose(-2, -1)  # (B, h, N, M)
    expected = (scores @ v) / scores.sum(-1, keepdim=True)
    torch.testing.assert_close(linear_attention(q, k, v, eps=0.0), expected)
    close(linear_attention(q.float(), k.float(), v.float()), expected.float())


def test_linear_attention_weights_rows_sum_to_one_and_give_the_output():
    q, k, v = qkv()
    out, weights = linear_attention(q, k, v, return_weights=True)
    assert weights.shape == (2, 3, 5, 7)
    assert (weights >= 0).all()
    close(weights.sum(-1), torch.ones(2, 3, 5))
    close(weights @ v, out)
    assert torch.equal(out, linear_attention(q, k, v))  # asking for weights changes nothing


def test_softmax_attention_equals_the_textbook_formula():
    q, k, v = qkv()
    expected = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1) @ v
    close(softmax_attention(q, k, v), expected)
    out, weights = softmax_attention(q, k, v, return_weights=True)
    close(weights.sum(-1), torch.ones(2, 3, 5))
    close(weights @ v, out)


@pytest.mark.parametrize("kernel", [linear_attention, softmax_attention])
def test_masked_keys_are_the_same_as_removed_keys(kernel):
    q, k, v = qkv()
    key_mask = torch.ones(2, 7, dtype=torch.bool)
    key_mask[:, 4:] = False
    close(kernel(q, k, v, key_mask=key_mask), kernel(q, k[:, :, :4], v[:, :, :4]))
    _, weights = kernel(q, k, v, key_mask=key_mask, return_weights=True)
    assert torch.all(weights[..., 4:] == 0)


@pytest.mark.parametrize("kernel", [linear_attention, softmax_attention])
def test_kernels_ignore_the_order_of_keys(kernel):
    q, k, v = qkv()
    perm = torch.randperm(7)
    close(kernel(q, k[:, :, perm], v[:, :, perm]), kernel(q, k, v))


@pytest.mark.parametrize("kernel", [linear_attention, softmax_attention])
def test_kernel_shape_errors(kernel):
    q, k, v = qkv()
    with pytest.raises(ValueError, match="shape \\(B, heads, tokens, head_dim\\)"):
        kernel(q[0], k, v)
    with pytest.raises(ValueError, match="do not fit"):
        kernel(q, k, v[:, :, :3])
    with pytest.raises(ValueError, match="key_mask"):
        kernel(q, k, v, key_mask=torch.ones(2, 6, dtype=torch.bool))


@pytest.mark.parametrize("kind", ["linear", "softmax"])
def test_multi_head_attention_shapes_and_self_attention_default(kind):
    attn = MultiHeadAttention(12, 3, kind=kind)
    x, context = torch.randn(2, 5, 12), torch.randn(2, 9, 12)
    out, weights = attn(x, context, return_weights=True)
    assert out.shape == (2, 5, 12)
    assert weights.shape == (2, 3, 5, 9)
    close(attn(x), attn(x, x))


@pytest.mark.parametrize("kind", ["linear", "softmax"])
def test_multi_head_attention_is_permutation_equivariant_in_queries(kind):
    attn = MultiHeadAttention(12, 3, kind=kind)
    x, context = torch.randn(2, 5, 12), torch.randn(2, 9, 12)
    perm = torch.randperm(5)
    close(attn(x[:, perm], context), attn(x, context)[:, perm])


def test_multi_head_attention_heads_are_independent_slices():
    attn = MultiHeadAttention(8, 2, kind="softmax", out_proj=False)
    x = torch.randn(1, 4, 8)
    q, k, v = attn.project(x)
    assert q.shape == k.shape == v.shape == (1, 2, 4, 4)
    close(q[:, 1], attn.to_q(x)[..., 4:])  # head 1 is the second block of channels


def test_multi_head_attention_errors():
    with pytest.raises(ValueError, match="dim=10 is not divisible by heads=3"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="kind must be one of"):
        MultiHeadAttention(12, 3, kind="cosine")


def test_transformer_block_ignores_padded_tokens():
    block = TransformerBlock(12, 3, 2.0, kind="softmax")
    x = torch.randn(2, 6, 12)
    key_mask = torch.tensor([[True] * 4 + [False] * 2] * 2)
    padded = block(x, key_mask=key_mask)
    close(padded[:, :4], block(x[:, :4]))
