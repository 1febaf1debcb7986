"""FrameViT and ClipViT: the same interface as RViT, and the properties that define them."""

import options
import pytest
import torch

from rvit import ClipViT, FrameViT, RViT, RViTConfig
from rvit.baselines import BASELINE_HEADS
from rvit.config import OPTIONS

K = 4
SIZE = 16


def tiny(preset: str = "paper", **overrides) -> RViTConfig:
    settings = {"dim": 32, "depth": 2, "heads": 4, "max_frames": 8}
    settings.update(overrides)
    return getattr(RViTConfig, preset)(num_classes=K, image_size=SIZE, **settings)


def video(b: int = 2, t: int = 5, size: int = SIZE) -> torch.Tensor:
    return torch.randn(b, t, 3, size, size)


def stream(model, clip, num_frames=None):
    state = model.init_state(clip.shape[0], num_frames=num_frames)
    outs = []
    for t in range(clip.shape[1]):
        logits, state = model.step(clip[:, t], state)
        outs.append(logits)
    return torch.stack(outs, dim=1)


def close(a, b, atol=1e-5):
    torch.testing.assert_close(a, b, atol=atol, rtol=0)


MODELS = [FrameViT, ClipViT]
# both presets, and one config per value of every option field (OPTIONS) on the paper preset; heads
# the baselines do not run under are tested to raise instead
CONFIGS = {"paper": tiny("paper"), "variant": tiny("variant")}
CONFIGS.update(options.option_configs(tiny, lambda f, v: f != "head" or v in BASELINE_HEADS))
UNSUPPORTED_HEADS = [head for head in OPTIONS["head"] if head not in BASELINE_HEADS]


@pytest.mark.parametrize("model_cls", MODELS)
@pytest.mark.parametrize("head", UNSUPPORTED_HEADS)
def test_a_head_the_baselines_do_not_run_under_raises(model_cls, head):
    with pytest.raises(ValueError, match=f"does not support cfg.head={head!r}"):
        model_cls(tiny("reconstruction", head=head))


def test_the_baselines_run_under_the_presets_heads():
    assert set(BASELINE_HEADS) <= set(OPTIONS["head"])
    assert {tiny("paper").head, tiny("variant").head} <= set(BASELINE_HEADS)


@pytest.mark.parametrize("model_cls", MODELS)
@pytest.mark.parametrize("name", list(CONFIGS))
@torch.no_grad()
def test_forward_equals_stepping(model_cls, name):
    model = model_cls(CONFIGS[name]).eval()
    clip = video()
    per_frame = model(clip, return_all=True)
    assert per_frame.shape == (2, 5, K)
    close(per_frame, stream(model, clip, num_frames=5))
    close(model(clip), per_frame[:, -1])


@pytest.mark.parametrize("model_cls", MODELS)
@torch.no_grad()
def test_padded_video_equals_the_same_video_alone(model_cls):
    model = model_cls(tiny("variant")).eval()
    clip, lengths = video(3, 6), torch.tensor([6, 2, 4])
    clip[1, 2:] = 50.0
    batched = model(clip, lengths=lengths, return_all=True)
    close(batched, stream(model, clip, num_frames=lengths))
    close(model(clip, lengths=lengths), batched[:, -1])
    for b, length in enumerate(lengths.tolist()):
        alone = model(clip[b : b + 1, :length], return_all=True)
        close(batched[b : b + 1, :length], alone)
        close(batched[b, length:], alone[0, -1].expand(6 - length, K))


@pytest.mark.parametrize("model_cls", MODELS)
def test_gradients_reach_every_parameter(model_cls):
    model = model_cls(tiny("variant", max_frames=4)).train()
    model(video(2, 4)).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum()]
    assert not missing


@pytest.mark.parametrize("model_cls", MODELS)
def test_same_seed_same_outputs(model_cls):
    def run():
        torch.manual_seed(3)
        return model_cls(tiny("paper", dropout=0.1)).train()(video())

    assert torch.equal(run(), run())


@pytest.mark.parametrize("model_cls", MODELS)
@torch.no_grad()
def test_an_image_is_a_one_frame_video(model_cls):
    model = model_cls(tiny()).eval()
    images = torch.randn(2, 3, SIZE, SIZE)
    close(model(images), model(images[:, None]))


@pytest.mark.parametrize("model_cls", MODELS)
def test_interface_and_errors(model_cls):
    model = model_cls(tiny()).eval()
    assert model.cfg == tiny()
    assert model.num_parameters() == sum(p.numel() for p in model.parameters())
    with pytest.raises(ValueError, match="image size 24x24"):
        model(video(1, 2, 24))
    with pytest.raises(ValueError, match="1..5"):
        model(video(), lengths=torch.tensor([6, 1]))
    with pytest.raises(ValueError, match="not made by"):
        model.step(torch.randn(2, 3, SIZE, SIZE), RViT(tiny()).init_state(2))
    with pytest.raises(ValueError, match="batch size 2"):
        model.step(torch.randn(3, 3, SIZE, SIZE), model.init_state(2))


# --- FrameViT ------------------------------------------------------------------------------------


@torch.no_grad()
def test_frame_vit_averages_the_logits_of_frames_seen_alone():
    model = FrameViT(tiny()).eval()
    clip = video(2, 4)
    per_frame = torch.stack([model(clip[:, t]) for t in range(4)], dim=1)  # each frame as an image
    running = per_frame.cumsum(1) / torch.arange(1, 5).view(1, 4, 1)
    close(model(clip, return_all=True), running)


@torch.no_grad()
def test_frame_vit_is_causal_and_ignores_frame_order():
    model = FrameViT(tiny()).eval()
    clip = video(2, 5)
    changed = clip.clone()
    changed[:, 3:] = torch.randn_like(changed[:, 3:])
    close(model(clip, return_all=True)[:, :3], model(changed, return_all=True)[:, :3])
    close(model(clip[:, torch.randperm(5)]), model(clip))


@torch.no_grad()
def test_frame_vit_details_give_the_current_frame_alone():
    model = FrameViT(tiny()).eval()
    frame = torch.randn(2, 3, SIZE, SIZE)
    _, state = model.step(torch.randn(2, 3, SIZE, SIZE), model.init_state(2))
    _, state, details = model.step(frame, state, return_details=True)
    close(details["frame_logits"], model(frame))
    assert state.count.tolist() == [2.0, 2.0]


@torch.no_grad()
def test_frame_vit_interpolated_runs_at_another_size():
    model = FrameViT(tiny(pos_embed="interpolated")).eval()
    assert model(video(2, 3, 24)).shape == (2, K)


# --- ClipViT -------------------------------------------------------------------------------------


@torch.no_grad()
def test_clip_vit_prediction_after_frame_t_is_the_clip_up_to_t():
    model = ClipViT(tiny()).eval()
    clip = video(2, 4)
    per_frame = model(clip, return_all=True)
    for t in range(4):
        close(per_frame[:, t], model(clip[:, : t + 1]))


@torch.no_grad()
def test_clip_vit_is_not_causal_within_a_clip_and_sees_frame_order():
    model = ClipViT(tiny()).eval()
    # The temporal table starts at zero (as trained tables start); give it values so order can show.
    torch.nn.init.normal_(model.time_embed, std=1.0)
    clip = video(2, 4)
    reversed_clip = clip.flip(1)
    assert (model(clip) - model(reversed_clip)).abs().max() > 1e-5


@torch.no_grad()
def test_clip_vit_state_keeps_every_frame():
    model = ClipViT(tiny()).eval()
    clip = video(2, 3)
    state = model.init_state(2)
    for t in range(3):
        _, state, details = model.step(clip[:, t], state, return_details=True)
        assert state.tokens.shape[:2] == (2, t + 1)
        assert details["frames_kept"] == t + 1


@torch.no_grad()
def test_clip_vit_longer_than_its_temporal_table():
    model = ClipViT(tiny(max_frames=3)).eval()
    clip = video(2, 5)
    per_frame = model(clip, return_all=True)  # table resized to 5 frames
    close(per_frame, stream(model, clip, num_frames=5))
    unknown = stream(model, clip, num_frames=None)  # frames past 3 reuse the last entry
    close(unknown[:, :3], model(clip[:, :3], return_all=True))  # the table's own first 3 entries
    assert torch.isfinite(unknown).all()
    close(model.temporal_table(3), model.time_embed)
    assert model.temporal_table(5).shape == (5, 32)
