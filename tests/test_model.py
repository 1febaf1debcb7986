"""RViT and its recurrent cell: streaming equals batch, causality, lengths, gradients, details, errors."""

import math

import options
import pytest
import torch
import torch.nn.functional as F

from rvit import RViT, RViTConfig
from rvit.attention import elu_feature_map
from rvit.cell import GATE_KV, KEY_SOURCES, AttentionGate, RecurrentBlock, recurrent_dropout_mask
from rvit.heads import HEADS

K = 5
SIZE = 16


def tiny(preset: str = "paper", **overrides) -> RViTConfig:
    settings = {"dim": 32, "depth": 2, "heads": 4, "patch_size": 4, "num_frames": 4}
    settings.update(overrides)
    return getattr(RViTConfig, preset)(num_classes=K, image_size=SIZE, **settings)


def option_configs() -> dict[str, RViTConfig]:
    """Both presets, and one config per value of every option field (``OPTIONS``) on the paper preset,
    so a new option value is tested without editing this list."""
    configs = {
        "paper": tiny("paper"),
        "variant": tiny("variant"),
        "reconstruction": tiny("reconstruction"),
        "official": RViTConfig.official(num_classes=K, image_size=SIZE, patch_size=4, depth=2),
        "recurrent_dropout": tiny(recurrent_dropout=0.3),
        "reconstruction_recurrent_dropout": tiny("reconstruction", recurrent_dropout=0.3),
        "conv3d_tubelet3": tiny(patch_embed="conv3d", tubelet=3),
    }
    configs.update(options.option_configs(tiny))
    return configs


OPTION_CONFIGS = option_configs()


def video(b: int = 2, t: int = 5, size: int = SIZE) -> torch.Tensor:
    return torch.randn(b, t, 3, size, size)


def stream(model, clip, num_frames=None, **kwargs):
    """Logits after each frame by stepping: (B, T, K)."""
    state = model.init_state(clip.shape[0], num_frames=num_frames)
    outs = []
    for t in range(clip.shape[1]):
        logits, state = model.step(clip[:, t], state, **kwargs)
        outs.append(logits)
    return torch.stack(outs, dim=1)


def close(a, b, atol=1e-5):
    torch.testing.assert_close(a, b, atol=atol, rtol=0)


# --- streaming equals batch ----------------------------------------------------------------------


@pytest.mark.parametrize("name", list(OPTION_CONFIGS))
@torch.no_grad()
def test_forward_equals_stepping(name):
    model = RViT(OPTION_CONFIGS[name]).eval()
    clip = video()
    per_frame = model(clip, return_all=True)
    assert per_frame.shape == (2, 5, K)
    close(per_frame, stream(model, clip, num_frames=5))
    close(model(clip), per_frame[:, -1])


@pytest.mark.parametrize("preset", ["paper", "variant"])
@torch.no_grad()
def test_stepping_with_lengths_equals_forward_with_lengths(preset):
    model = RViT(tiny(preset)).eval()
    clip, lengths = video(3, 6), torch.tensor([6, 2, 4])
    per_frame = model(clip, lengths=lengths, return_all=True)
    close(per_frame, stream(model, clip, num_frames=lengths))
    close(model(clip, lengths=lengths), per_frame[:, -1])


@torch.no_grad()
def test_hidden_states_stop_at_each_videos_end():
    model = RViT(tiny("variant")).eval()
    clip, lengths = video(2, 5), torch.tensor([5, 2])
    state = model.init_state(2, num_frames=lengths)
    alone = model.init_state(1, num_frames=2)
    for t in range(5):
        _, state = model.step(clip[:, t], state)
        if t < 2:
            _, alone = model.step(clip[1:, t], alone)
    assert state.frame_index.tolist() == [5, 5]
    for h, h_alone in zip(state.hidden, alone.hidden, strict=True):
        close(h[1:], h_alone)


def test_stream_detects_a_different_embedding_path():
    # The test above compares two code paths: perturbing the streaming path must be caught.
    model = RViT(tiny("variant")).eval()
    clip = video()
    with torch.no_grad():
        batch = model(clip, return_all=True)
        model.patch_embed.embed_frame = lambda frame, buffer: type(model.patch_embed).embed_frame(
            model.patch_embed, frame, None
        )
        streamed = stream(model, clip, num_frames=5)
    assert (batch[:, 1:] - streamed[:, 1:]).abs().max() > 1e-2 * batch.abs().max()


# --- causality and lengths -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["paper", "variant", "reconstruction", "paper:attention=softmax", "official"]
)
@torch.no_grad()
def test_prediction_after_frame_t_ignores_later_frames(name):
    model = RViT(OPTION_CONFIGS[name]).eval()
    clip = video(2, 6)
    changed = clip.clone()
    changed[:, 3:] = torch.randn_like(changed[:, 3:])
    a, b = model(clip, return_all=True), model(changed, return_all=True)
    close(a[:, :3], b[:, :3])
    assert (a[:, 3:] - b[:, 3:]).abs().max() > 1e-2 * a.abs().max()


@pytest.mark.parametrize(
    "name",
    [
        "paper",
        "variant",
        "reconstruction",
        "conv3d_tubelet3",
        "paper:pos_embed=interpolated",
        "paper:head=gap",
        "reconstruction:pos_embed=interpolated",
    ],
)
@torch.no_grad()
def test_padded_video_equals_the_same_video_alone(name):
    model = RViT(OPTION_CONFIGS[name]).eval()
    clip, lengths = video(3, 7), torch.tensor([7, 3, 5])
    clip[1, 3:] = 100.0  # padding content must not matter
    batched = model(clip, lengths=lengths, return_all=True)
    for b, length in enumerate(lengths.tolist()):
        alone = model(clip[b : b + 1, :length], return_all=True)
        close(batched[b : b + 1, :length], alone)
        close(batched[b, length:], alone[0, -1].expand(7 - length, K))  # frozen after the end


# --- images, sizes, lengths ----------------------------------------------------------------------


@pytest.mark.parametrize("preset", ["paper", "variant"])
@torch.no_grad()
def test_an_image_is_a_one_frame_video(preset):
    model = RViT(tiny(preset)).eval()
    images = torch.randn(3, 3, SIZE, SIZE)
    close(model(images), model(images[:, None]))


@pytest.mark.parametrize(("size", "frames"), [(8, 3), (24, 3), (SIZE, 2), (SIZE, 9), (24, 9)])
@torch.no_grad()
def test_interpolated_positions_run_at_other_sizes_and_lengths(size, frames):
    model = RViT(tiny("variant")).eval()
    clip = video(2, frames, size)
    per_frame = model(clip, return_all=True)
    assert per_frame.shape == (2, frames, K)
    assert torch.isfinite(per_frame).all()
    close(per_frame, stream(model, clip, num_frames=frames))


@torch.no_grad()
def test_unknown_length_stream_uses_the_configured_grid_and_clamps():
    cfg = tiny("variant")  # num_frames = 4
    model = RViT(cfg).eval()
    clip = video(2, 6)
    streamed = stream(model, clip, num_frames=None)
    # within the configured length: the same positions as a clip of exactly cfg.num_frames frames
    close(streamed[:, : cfg.num_frames], model(clip[:, : cfg.num_frames], return_all=True))
    # beyond it: the last entry of the table is reused, so the stream still runs causally
    assert torch.isfinite(streamed).all()
    table = model.pos_embed.tables(cfg.grid_size, None)
    assert table.shape[1] == cfg.num_frames


def test_shared_positions_at_another_size_raise():
    model = RViT(tiny("paper"))
    with pytest.raises(ValueError, match="image size 24x24.*interpolated"):
        model(video(1, 2, 24))


# --- gradients, determinism, dropout -------------------------------------------------------------


@pytest.mark.parametrize("preset", ["paper", "variant"])
def test_gradients_reach_every_parameter(preset):
    model = RViT(tiny(preset)).train()
    model(video(2, 4)).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not missing


@pytest.mark.parametrize("preset", ["paper", "variant"])
def test_same_seed_same_outputs(preset):
    def run():
        torch.manual_seed(7)
        model = RViT(tiny(preset)).train()
        clip = video()
        return model(clip, return_all=True)

    assert torch.equal(run(), run())


def test_recurrent_dropout_one_mask_per_sequence_and_layer():
    p = 0.5
    model = RViT(tiny(recurrent_dropout=p)).train()
    state = model.init_state(3)
    assert len(state.masks) == model.cfg.depth
    masks = [m.clone() for m in state.masks]
    for m in masks:
        assert m.shape == (3, 1, model.cfg.dim)
        assert set(m.unique().tolist()) <= {0.0, 1 / (1 - p)}
    clip = video(3, 3)
    for t in range(3):
        _, state = model.step(clip[:, t], state)
        for before, now in zip(masks, state.masks, strict=True):
            assert torch.equal(before, now)  # the same mask at every step


@pytest.mark.parametrize("preset", ["reconstruction", "reconstruction:recurrence=additive"])
def test_recurrent_dropout_is_applied_to_the_candidate(preset):
    cfg = OPTION_CONFIGS[preset].replace(recurrent_dropout=0.5)
    model = RViT(cfg).train()
    state = model.init_state(2)
    state.masks[0] = torch.zeros_like(state.masks[0])  # silence layer 0's memory entirely
    clip = video(2, 3)
    for t in range(3):
        _, state, details = model.step(clip[:, t], state, return_details=True)
        assert torch.all(details["hidden_norm"][:, 0] == 0)
        assert torch.all(details["hidden_norm"][:, 1] > 0)


def test_recurrent_dropout_off_in_eval_and_zero_rate_equals_none():
    clip = video()
    model = RViT(tiny(recurrent_dropout=0.5)).eval()
    assert model.init_state(2).masks is None
    with torch.no_grad():
        evaluated = model(clip)
        model.train()
        dropped = model(clip)
    assert (evaluated - dropped).abs().max() > 1e-2 * evaluated.abs().max()

    no_dropout = RViT(tiny(recurrent_dropout=0.0))
    no_dropout.load_state_dict(model.state_dict())
    no_dropout.train()
    assert no_dropout.init_state(2).masks is None
    with torch.no_grad():
        close(no_dropout(clip), evaluated)  # dropout=0 and p=0: train mode changes nothing


def test_recurrent_dropout_mask_rate():
    torch.manual_seed(0)
    mask = recurrent_dropout_mask(400, 50, 0.25)
    assert mask.shape == (400, 1, 50)
    assert abs((mask == 0).float().mean().item() - 0.25) < 0.02
    close(mask.mean(), torch.tensor(1.0), atol=0.03)


# --- details -------------------------------------------------------------------------------------


def _recomputed_gate_weights(gate: AttentionGate, u, context):
    q, k, _ = gate.attn.project(u, context)
    if gate.attn.kind == "linear":
        scores = elu_feature_map(q) @ elu_feature_map(k).transpose(-2, -1)
        return scores / scores.sum(-1, keepdim=True)
    return (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1)


@pytest.mark.parametrize(
    "name",
    [
        "reconstruction",
        "reconstruction:attention=hybrid",
        "reconstruction:attention=softmax",
        "reconstruction:gate_kv=memory",
        "reconstruction:recurrence=additive",
    ],
)
@torch.no_grad()
def test_details_are_the_weights_the_gate_used(name):
    model = RViT(OPTION_CONFIGS[name]).eval()
    cfg = model.cfg
    seen = {}

    def hook(i):
        def capture(module, args, output):
            seen[i] = args[:2]  # (u, context) given to the gate's attention

        return capture

    handles = [b.gate.attn.register_forward_hook(hook(i)) for i, b in enumerate(model.blocks)]
    clip = video(2, 3)
    plain, detailed = model.init_state(2, 3), model.init_state(2, 3)
    n = cfg.num_patches
    m = max(block.stop for _, block in model.blocks[0].gate.key_blocks(n))
    for t in range(3):
        logits, plain = model.step(clip[:, t], plain)
        logits_d, detailed, details = model.step(clip[:, t], detailed, return_details=True)
        # details change nothing but rounding: the linear gate's plain step sums the frame's and the
        # memory's key summaries (split form), the detailed step attends over [u; h] at once
        close(logits, logits_d, atol=1e-6)
        for i, weights in enumerate(details["gate_attention"]):
            assert weights.shape == (2, cfg.heads, n, m)
            close(weights.sum(-1), torch.ones(2, cfg.heads, n))
            close(weights, _recomputed_gate_weights(model.blocks[i].gate, *seen[i]))
        norms = torch.stack([h.norm(dim=-1).mean(1) for h in detailed.hidden], dim=1)
        assert details["hidden_norm"].shape == (2, cfg.depth)
        close(details["hidden_norm"], norms)
    for h in handles:
        h.remove()


# --- heads ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(HEADS))
@torch.no_grad()
def test_each_head_gives_features_of_its_width(name):
    model = RViT(tiny(head=name)).eval()  # the paper preset: class tokens, so every head runs
    features = model.forward_features(video(2, 3))
    assert features.shape == (2, model.readout.num_features) == (2, model.num_features)
    assert model.blocks[-1].emits_tokens == HEADS[name].reads_tokens
    for layer_name, layer in model.readout.layers().items():
        assert getattr(model, layer_name) is layer  # registered on the model, under that name


def test_head_layers_keep_their_checkpoint_names():
    concat = RViT(tiny("reconstruction", head="concat")).state_dict()
    gap = RViT(tiny("reconstruction", head="gap")).state_dict()
    assert {"norm.weight", "norm.bias", "fc_norm.weight", "head.weight", "head.bias"} <= set(concat)
    assert "norm.weight" not in gap and {"fc_norm.weight", "head.weight"} <= set(gap)
    assert concat["fc_norm.weight"].shape == (2 * 32,) and gap["fc_norm.weight"].shape == (32,)


# --- the cell on its own -------------------------------------------------------------------------


@pytest.mark.parametrize("kv", GATE_KV)
def test_gate_key_blocks_describe_its_keys(kv):
    gate = AttentionGate(16, 2, kv=kv)
    u, h = torch.randn(2, 5, 16), torch.randn(2, 5, 16)
    context = gate.context(u, h)
    blocks = gate.key_blocks(5)
    assert [name for name, _ in blocks] == list(KEY_SOURCES[kv])
    assert context.shape[1] == sum(block.stop - block.start for _, block in blocks)
    for name, block in blocks:
        assert torch.equal(context[:, block], {"frame": u, "memory": h}[name])
    _, weights = gate(u, h, return_weights=True)
    assert weights.shape[-1] == context.shape[1]


def test_every_gate_kv_has_its_key_blocks():
    assert set(KEY_SOURCES) == set(GATE_KV)


def test_gate_interpolates_between_memory_and_candidate():
    gate = AttentionGate(16, 2)
    u, h_prev = torch.randn(2, 4, 16), torch.randn(2, 4, 16)
    with torch.no_grad():
        gate.update.bias.fill_(-1e4)  # z = 0: keep the memory
        close(gate(u, h_prev)[0], h_prev)
        gate.update.bias.fill_(1e4)  # z = 1: take the candidate W_c a
        a = gate.attn(u, gate.context(u, h_prev))
        close(gate(u, h_prev)[0], gate.candidate(a))


def test_gate_memory_only_ignores_the_frame_as_keys():
    gate = AttentionGate(16, 2, kv="memory")
    u, h_prev = torch.randn(2, 4, 16), torch.randn(2, 4, 16)
    _, weights = gate(u, h_prev, return_weights=True)
    assert weights.shape == (2, 2, 4, 4)
    assert torch.equal(gate.context(u, h_prev), h_prev)


def test_block_keeps_the_memory_of_ended_samples():
    block = RecurrentBlock(16, 2, 2.0)
    x, h_prev = torch.randn(3, 4, 16), torch.randn(3, 4, 16)
    active = torch.tensor([True, False, True])
    _, h, _ = block(x, h_prev, active=active)
    assert torch.equal(h[1], h_prev[1])
    assert not torch.allclose(h[0], h_prev[0])


def test_step_leaves_the_given_state_unchanged():
    model = RViT(tiny("variant")).eval()
    state = model.init_state(2)
    _, after_one = model.step(video(2, 1)[:, 0], state)
    assert state.hidden is None and state.buffer is None and int(state.frame_index.sum()) == 0
    assert after_one.frame_index.tolist() == [1, 1]


def test_parameter_count_and_config_attribute():
    model = RViT(tiny())
    assert model.cfg == tiny()
    assert model.num_parameters() == sum(p.numel() for p in model.parameters())


# --- errors --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def paper_model():
    return RViT(tiny("paper")).eval()


@pytest.mark.parametrize(
    ("make_input", "kwargs", "match"),
    [
        (lambda: torch.randn(2, 3, 3), {}, "shape"),
        (lambda: torch.randn(1, 2, 2, 3, SIZE, SIZE), {}, "shape"),
        (lambda: torch.randn(2, 3, 1, SIZE, SIZE), {}, "channels"),
        (lambda: torch.randn(2, 0, 3, SIZE, SIZE), {}, "0 frames"),
        (lambda: torch.randn(0, 2, 3, SIZE, SIZE), {}, "batch size 0"),
        (lambda: torch.randn(2, 2, 3, 14, 14), {}, "not divisible by patch_size"),
        (lambda: torch.randn(2, 2, 3, 32, 32), {}, "image size 32x32"),
        (lambda: torch.zeros(2, 2, 3, SIZE, SIZE, dtype=torch.uint8), {}, "floating-point"),
        (lambda: torch.full((2, 2, 3, SIZE, SIZE), float("nan")), {}, "NaN or inf"),
        (lambda: torch.full((2, 2, 3, SIZE, SIZE), float("inf")), {}, "NaN or inf"),
        (
            lambda: torch.randn(2, 3, 3, SIZE, SIZE),
            {"lengths": torch.tensor([3])},
            "shape \\(2,\\)",
        ),
        (lambda: torch.randn(2, 3, 3, SIZE, SIZE), {"lengths": torch.tensor([3.0, 2.0])}, "dtype"),
        (lambda: torch.randn(2, 3, 3, SIZE, SIZE), {"lengths": torch.tensor([3, 0])}, "1..3"),
        (lambda: torch.randn(2, 3, 3, SIZE, SIZE), {"lengths": torch.tensor([4, 1])}, "1..3"),
        (lambda: torch.randn(2, 3, 3, SIZE, SIZE), {"lengths": [3, 2]}, "LongTensor"),
    ],
)
def test_bad_video_input_raises(paper_model, make_input, kwargs, match):
    with pytest.raises(ValueError, match=match):
        paper_model(make_input(), **kwargs)


def test_bad_stream_input_raises(paper_model):
    frame = torch.randn(2, 3, SIZE, SIZE)
    state = paper_model.init_state(2)
    with pytest.raises(ValueError, match="batch size 2"):
        paper_model.step(frame[:1], state)
    with pytest.raises(ValueError, match="another config"):
        paper_model.step(frame, RViT(tiny("paper", depth=1)).init_state(2))
    with pytest.raises(ValueError, match="not made by RViT"):
        paper_model.step(frame, {"hidden": None})
    with pytest.raises(ValueError, match="shape \\(B, C, H, W\\)"):
        paper_model.step(frame[:, None], state)
    with pytest.raises(ValueError, match="NaN"):
        paper_model.step(frame * float("nan"), state)
    with pytest.raises(ValueError, match="batch_size"):
        paper_model.init_state(0)
    with pytest.raises(ValueError, match="num_frames"):
        paper_model.init_state(2, num_frames=0)
    with pytest.raises(ValueError, match="shape \\(2,\\)"):
        paper_model.init_state(2, num_frames=torch.tensor([3, 3, 3]))


def test_frame_size_may_not_change_mid_stream():
    model = RViT(tiny("variant")).eval()
    state = model.init_state(1)
    _, state = model.step(torch.randn(1, 3, SIZE, SIZE), state)
    with pytest.raises(ValueError, match="differs from the earlier frames"):
        model.step(torch.randn(1, 3, 8, 8), state)


def test_models_centre_pixels_with_the_config_statistics():
    from rvit import FrameViT

    cfg = RViTConfig.paper(num_classes=3, image_size=16, dim=32, depth=1, heads=2)
    shifted = cfg.replace(pixel_mean=0.0, pixel_std=1.0)
    video = torch.rand(2, 3, 3, 16, 16)
    for cls in (RViT, FrameViT):
        torch.manual_seed(0)
        model = cls(cfg).eval()
        torch.manual_seed(0)
        plain = cls(shifted).eval()
        # the same weights fed pixels that are already centred give the same logits
        torch.testing.assert_close(model(video), plain((video - 0.5) / 0.25))
    with pytest.raises(ValueError, match="pixel_std"):
        cfg.replace(pixel_std=0.0)


def _reference_gate(gate: AttentionGate, u, h_prev, mask=None):
    """The gate in its concatenated form: attention over ``[u; h]`` and ``W_z [u || h]``."""
    a = gate.attn(u, torch.cat([u, h_prev], dim=1))
    c = gate.candidate(a)
    z = torch.sigmoid(gate.update(torch.cat([u, h_prev], dim=-1)))
    if mask is not None:
        c = c * mask
    return (1.0 - z) * h_prev + z * c


def test_split_gate_equals_the_concatenated_form_values_and_gradients():
    # float64 so that the tolerance (1e-10) measures the algebra, not float32 rounding
    torch.manual_seed(0)
    gate = AttentionGate(16, 4, kind="linear").double()
    assert gate.split
    u = torch.randn(3, 7, 16, dtype=torch.float64, requires_grad=True)
    h = torch.randn(3, 7, 16, dtype=torch.float64, requires_grad=True)
    mask = recurrent_dropout_mask(3, 16, 0.25).double()
    split, _ = gate(u, h, mask)
    reference = _reference_gate(gate, u, h, mask)
    torch.testing.assert_close(split, reference, atol=1e-10, rtol=1e-10)
    weight = torch.randn_like(split)
    grads = torch.autograd.grad((split * weight).sum(), [u, h, *gate.parameters()])
    grads_ref = torch.autograd.grad((reference * weight).sum(), [u, h, *gate.parameters()])
    for g, g_ref in zip(grads, grads_ref, strict=True):
        torch.testing.assert_close(g, g_ref, atol=1e-10, rtol=1e-10)


def test_gate_takes_the_explicit_form_for_one_video_without_gradients():
    # batch 1 under no_grad runs the concatenated form (fewer operators); the numbers agree with
    # the split form, which a batch of two takes
    torch.manual_seed(0)
    gate = AttentionGate(16, 4, kind="linear").double()
    u, h = torch.randn(2, 7, 16, dtype=torch.float64), torch.randn(2, 7, 16, dtype=torch.float64)
    calls = []
    original = gate._split_linear_attention
    gate._split_linear_attention = lambda *a: calls.append(a[0].shape[0]) or original(*a)
    with torch.no_grad():
        one, _ = gate(u[:1], h[:1])
        both, _ = gate(u, h)
    assert calls == [2]
    torch.testing.assert_close(one, both[:1], atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(one, _reference_gate(gate, u[:1], h[:1]), atol=1e-10, rtol=1e-10)


# --- the released design -------------------------------------------------------------------------


def test_official_preset_has_the_released_parameter_count():
    with torch.device("meta"):
        model = RViT(RViTConfig.official(num_classes=400))
    assert model.num_parameters(trainable_only=True) == 4_076_176


@torch.no_grad()
def test_official_streams_like_its_forward_at_its_own_size():
    model = RViT(RViTConfig.official(num_classes=5, depth=1)).eval()
    clip = torch.rand(1, 3, 3, 112, 112)
    close(model(clip, return_all=True), stream(model, clip), atol=1e-5)


def _released_layer(block, x, h, pos):
    """One fused layer written out from the released design's equations, with the block's weights."""
    x, h = x + pos, h + pos
    u, g = F.layer_norm(x, x.shape[-1:]), F.layer_norm(h, h.shape[-1:])
    u = u * block.norm_x.weight + block.norm_x.bias
    g = g * block.norm_h.weight + block.norm_h.bias
    attn = block.attn
    qkv = attn.to_qkv(u) + attn.to_qkv_h(g)  # (B, N, 3D)
    b, n, d3 = qkv.shape
    q, k, v = qkv.reshape(b, n, 3, attn.heads, d3 // 3 // attn.heads).permute(2, 0, 3, 1, 4)
    weights = (q @ k.transpose(-2, -1) * (d3 // 3 // attn.heads) ** -0.5).softmax(-1)
    a = attn.proj((weights @ v).transpose(1, 2).reshape(b, n, d3 // 3))
    x = x + a
    x = x + block.mlp(block.norm_mlp(x))
    return x, h + a  # the memory adds what the layer read: no gate, no decay


@torch.no_grad()
def test_fused_layer_is_the_released_equations():
    cfg = RViTConfig.official(num_classes=5, image_size=16, patch_size=4, depth=1, heads=4)
    block = RViT(cfg).eval().blocks[0]
    x, h, pos = torch.randn(2, 17, 48), torch.randn(2, 17, 48), torch.randn(2, 17, 48)
    got_x, got_h, _ = block(x, h, pos=pos)
    want_x, want_h = _released_layer(block, x, h, pos)
    close(got_x, want_x)
    close(got_h, want_h)


@torch.no_grad()
def test_released_memory_starts_from_the_sequence_tokens_and_accumulates():
    model = RViT(tiny("paper")).eval()
    state = model.init_state(2)
    clip = video(2, 3)
    _, state = model.step(clip[:, 0], state)
    first = [h.clone() for h in state.hidden]
    _, state = model.step(torch.zeros_like(clip[:, 0]), state)
    for h0, h1 in zip(first, state.hidden, strict=True):
        assert h1.shape == (2, model.cfg.num_patches + 1, model.cfg.dim)  # class/sequence + N
        assert (h1 - h0).abs().max() > 0  # a blank frame still adds what the layer read
    features = model.forward_features(clip)
    assert features.shape == (2, (model.cfg.depth + 1) * model.cfg.dim)


def test_hybrid_fused_attention_splits_the_heads_between_the_kernels():
    from rvit.cell import FusedAttention

    assert FusedAttention(32, 4, "hybrid").softmax_heads == 2
    assert FusedAttention(30, 3, "hybrid").softmax_heads == 2
    assert FusedAttention(32, 4, "linear").softmax_heads == 0
    attn = FusedAttention(32, 4, "hybrid")
    u, g = torch.randn(2, 5, 32), torch.randn(2, 5, 32)
    a, weights = attn(u, g, return_weights=True)
    assert a.shape == (2, 5, 32) and weights.shape == (2, 4, 5, 5)
    close(weights.sum(-1), torch.ones(2, 4, 5))


def test_the_finiteness_check_settles_on_the_sum_and_never_misses():
    from rvit.streaming import check_finite

    big = torch.full((4, 3), 3e38)  # every value finite, their sum overflows to inf
    check_finite(big, "x")
    check_finite(torch.zeros(0), "x")
    check_finite(torch.arange(6), "x")  # integers are always finite
    for bad in (float("nan"), float("inf"), -float("inf")):
        x = torch.rand(2, 5, 3)
        x[1, 4, 2] = bad
        with pytest.raises(ValueError, match="a batch contains NaN or inf values"):
            check_finite(x, "a batch")
    mixed = torch.tensor([float("inf"), -float("inf"), 1.0])  # a sum that is NaN, not inf
    with pytest.raises(ValueError, match="NaN or inf"):
        check_finite(mixed, "x")
