"""Patch embeddings and position tables: shapes, causality, streaming, resizing, errors."""

import pytest
import torch
import torch.nn.functional as F

from rvit.patch import (
    InterpolatedPosEmbed,
    PatchEmbed2d,
    SharedPosEmbed,
    TubeletEmbed3d,
    patch_grid,
)


def close(a, b, atol=1e-5):
    torch.testing.assert_close(a, b, atol=atol, rtol=0)


def test_patch_embed_is_a_linear_map_of_each_patch():
    embed = PatchEmbed2d(patch_size=4, in_chans=3, dim=8)
    frame = torch.randn(2, 3, 8, 12)
    tokens = embed(frame)
    assert tokens.shape == (2, 6, 8)  # 2 x 3 patches
    patches = F.unfold(frame, kernel_size=4, stride=4).transpose(1, 2)  # (B, N, C*P*P), row-major
    expected = patches @ embed.proj.weight.flatten(1).T + embed.proj.bias
    close(tokens, expected)


def test_patch_embed_equals_its_strided_convolution():
    # the patches are cut out and multiplied, not convolved: the same map of the same weights
    embed = PatchEmbed2d(patch_size=8, in_chans=3, dim=48)
    frame = torch.rand(5, 3, 32, 24)
    conv = embed.proj(frame).flatten(2).transpose(1, 2)  # (B, N, D), patches row-major
    close(embed(frame), conv)
    assert embed(frame).is_contiguous()
    grads = []
    for out in (embed(frame), embed.proj(frame).flatten(2).transpose(1, 2)):
        embed.zero_grad()
        out.square().sum().backward()
        grads.append((embed.proj.weight.grad.clone(), embed.proj.bias.grad.clone()))
    close(grads[0][0], grads[1][0], atol=1e-3)
    close(grads[0][1], grads[1][1], atol=1e-3)


def test_patch_embed_video_embeds_each_frame_alone():
    embed = PatchEmbed2d(4, 3, 8)
    clip = torch.randn(2, 3, 3, 8, 8)
    tokens = embed.embed_video(clip)
    assert tokens.shape == (2, 3, 4, 8)
    for t in range(3):
        close(tokens[:, t], embed.embed_frame(clip[:, t])[0])


@pytest.mark.parametrize("tubelet", [1, 2, 3])
def test_tubelet_streaming_equals_whole_clip(tubelet):
    embed = TubeletEmbed3d(4, 3, 8, tubelet)
    clip = torch.randn(2, 5, 3, 8, 8)
    whole = embed(clip)
    assert whole.shape == (2, 5, 4, 8)
    buffer, steps = None, []
    for t in range(5):
        tokens, buffer = embed.embed_frame(clip[:, t], buffer)
        assert buffer.shape == (2, tubelet - 1, 3, 8, 8)
        steps.append(tokens)
    close(torch.stack(steps, dim=1), whole)


def test_tubelet_is_causal_and_sees_exactly_its_window():
    embed = TubeletEmbed3d(4, 3, 8, tubelet=3)
    clip = torch.randn(1, 6, 3, 8, 8)
    changed = clip.clone()
    changed[:, 4:] = torch.randn_like(changed[:, 4:])
    a, b = embed(clip), embed(changed)
    close(a[:, :4], b[:, :4])  # frames 0..3 do not see frames 4, 5
    assert (a[:, 4] - b[:, 4]).abs().max() > 1e-4
    old = clip.clone()
    old[:, 0] = torch.randn_like(old[:, 0])
    close(embed(old)[:, 3:], a[:, 3:])  # frame 3 sees frames 1..3 only


def test_tubelet_on_a_static_clip_gives_the_same_tokens_every_frame():
    embed = TubeletEmbed3d(4, 3, 8, tubelet=3)
    image = torch.randn(2, 3, 8, 8)
    tokens = embed(image[:, None].expand(-1, 4, -1, -1, -1))
    for t in range(1, 4):
        close(tokens[:, t], tokens[:, 0])


def test_tubelet_of_one_frame_equals_a_2d_patch_embedding():
    embed3d = TubeletEmbed3d(4, 3, 8, tubelet=1)
    embed2d = PatchEmbed2d(4, 3, 8)
    with torch.no_grad():
        embed2d.proj.weight.copy_(embed3d.proj.weight[:, :, 0])
        embed2d.proj.bias.copy_(embed3d.proj.bias)
    clip = torch.randn(2, 3, 3, 8, 8)
    close(embed3d(clip), embed2d.embed_video(clip))


def test_patch_grid_and_embedding_errors():
    assert patch_grid(8, 12, 4) == (2, 3)
    with pytest.raises(ValueError, match="10x12 is not divisible by patch_size=4"):
        patch_grid(10, 12, 4)
    with pytest.raises(ValueError, match="channels"):
        PatchEmbed2d(4, 3, 8)(torch.randn(1, 1, 8, 8))
    with pytest.raises(ValueError, match="shape \\(B, T, C, H, W\\)"):
        TubeletEmbed3d(4, 3, 8)(torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match="tubelet"):
        TubeletEmbed3d(4, 3, 8, tubelet=0)
    embed = TubeletEmbed3d(4, 3, 8, tubelet=2)
    with pytest.raises(ValueError, match="buffer"):
        embed.embed_frame(torch.randn(2, 3, 8, 8), torch.randn(1, 1, 3, 8, 8))


def test_shared_table_is_the_same_for_every_frame_and_one_size_only():
    pos = SharedPosEmbed((2, 3), 8)
    tokens = torch.zeros(2, 4, 6, 8)
    out = pos(tokens, (2, 3))
    for t in range(4):
        close(out[:, t], pos.table.expand(2, -1, -1))
    assert pos.tables((2, 3), torch.tensor([2, 5])).shape == (1, 1, 6, 8)
    with pytest.raises(ValueError, match="2x3 patch grid; got a 4x4 grid.*interpolated"):
        pos.resized((4, 4), 1)


def test_interpolated_table_at_its_own_size_is_the_table():
    pos = InterpolatedPosEmbed(4, (2, 3), 8)
    close(pos.resized((2, 3), 4), pos.table.flatten(1, 2))
    close(pos.resized((2, 3), None), pos.table.flatten(1, 2))


@pytest.mark.parametrize(("grid", "frames"), [((4, 6), 7), ((1, 1), 1), ((3, 2), 2)])
def test_interpolated_table_resizes_and_keeps_constants(grid, frames):
    pos = InterpolatedPosEmbed(4, (2, 3), 8)
    assert pos.resized(grid, frames).shape == (frames, grid[0] * grid[1], 8)
    with torch.no_grad():
        pos.table.copy_(torch.arange(8.0).expand(4, 2, 3, 8))  # constant over time and space
    close(pos.resized(grid, frames), torch.arange(8.0).expand(frames, grid[0] * grid[1], 8))


def test_interpolated_table_uses_trilinear_interpolation():
    pos = InterpolatedPosEmbed(2, (2, 2), 3)
    expected = F.interpolate(
        pos.table.permute(3, 0, 1, 2)[None], size=(5, 3, 4), mode="trilinear", align_corners=False
    )[0].permute(1, 2, 3, 0)
    close(pos.resized((3, 4), 5), expected.flatten(1, 2))


def test_per_sample_tables_equal_each_sample_alone():
    pos = InterpolatedPosEmbed(4, (2, 2), 8)
    lengths = torch.tensor([3, 6, 3])
    tables = pos.tables((2, 2), lengths)
    assert tables.shape == (3, 6, 4, 8)
    for b, length in enumerate(lengths.tolist()):
        alone = pos.tables((2, 2), length)[0]
        close(tables[b, :length], alone)
        close(tables[b, length:], alone[-1].expand(6 - length, -1, -1))  # padding repeats the end


def test_position_forward_adds_the_table_per_frame():
    pos = InterpolatedPosEmbed(3, (2, 2), 8)
    tokens = torch.randn(2, 5, 4, 8)
    close(pos(tokens, (2, 2)) - tokens, pos.resized((2, 2), 5).expand(2, -1, -1, -1))


@pytest.mark.parametrize("grid", [(4, 4), (6, 5)])
@pytest.mark.parametrize("length", [1, 3, 8, 13, 300])
def test_frame_rows_are_the_rows_of_the_trilinear_table(grid, length):
    torch.manual_seed(0)
    pos = InterpolatedPosEmbed(8, (4, 4), 16)
    spatial = pos.spatial(grid)
    assert spatial.shape == (8, grid[0] * grid[1], 16)  # whatever the clip's length
    index = torch.arange(length + 2)  # frames beyond the end repeat the last entry
    rows = pos.frame_rows(spatial, length, index)
    table = pos.tables(grid, length)[0]
    want = table[index.clamp(max=table.shape[0] - 1)]
    torch.testing.assert_close(rows, want, atol=1e-6, rtol=0)
    lengths = torch.tensor([length, 2])  # one length per sample
    per_sample = pos.frame_rows(spatial, lengths, torch.tensor([length - 1, 5]))
    torch.testing.assert_close(per_sample[0], want[length - 1], atol=1e-6, rtol=0)
    torch.testing.assert_close(per_sample[1], pos.tables(grid, 2)[0][1], atol=1e-6, rtol=0)


def test_a_streams_position_state_does_not_grow_with_the_length():
    from rvit import RViT, RViTConfig

    model = RViT(RViTConfig.variant(4, image_size=16, patch_size=4, dim=16, heads=2, depth=1))
    frame = torch.rand(1, 3, 16, 16)
    sizes = []
    for length in (8, 3000):
        state = model.init_state(1, num_frames=length)
        with torch.no_grad():
            _, state = model.step(frame, state)
        sizes.append(state.pos.numel())
    assert sizes[0] == sizes[1]
