"""Augmentation: one random draw per video, shapes and ranges, pseudo-videos smooth and seeded."""

import pytest
import torch
from datafiles import texture

from rvit.data.augment import (
    CameraPose,
    FrameSharedGaussianNoise,
    PseudoVideo,
    eval_transform,
    make_transform,
)


def _still_clip(frames=5, size=40):
    return texture(1, size, size).float().div(255).expand(frames, -1, -1, -1).clone()


@pytest.mark.parametrize("preset", ["none", "basic", "strong"])
def test_identical_frames_stay_identical(preset):
    transform = make_transform(preset, image_size=24)
    clip = _still_clip()
    for _ in range(10):  # many draws, so every random op of "strong" gets its turn
        out = transform(clip)
        assert out.shape == (5, 3, 24, 24) and out.dtype == torch.float32
        assert torch.equal(out, out[:1].expand_as(out))
        assert out.min() >= 0 and out.max() <= 1


@pytest.mark.parametrize("preset", ["basic", "strong"])
def test_one_draw_covers_every_frame_of_a_moving_clip(preset):
    # A clip of different frames: the video result must equal transforming each frame with the
    # same random state, frame by frame, through the same draw.
    clip = torch.stack([texture(s, 40, 40) for s in range(4)]).float().div(255)
    transform = make_transform(preset, image_size=24)
    torch.manual_seed(11)
    whole = transform(clip)
    per_frame = []
    for frame in clip:
        torch.manual_seed(11)
        per_frame.append(transform(frame))
    torch.testing.assert_close(whole, torch.stack(per_frame), atol=1e-5, rtol=0)


def test_images_and_uint8_are_accepted_and_presets_checked():
    image = texture(2, 30, 50)
    out = make_transform("strong", 16)(image)
    assert out.shape == (3, 16, 16) and out.dtype == torch.float32
    with pytest.raises(ValueError, match="preset"):
        make_transform("wild")
    with pytest.raises(ValueError, match="image_size"):
        make_transform("basic", 0)
    with pytest.raises(ValueError, match="shape"):
        make_transform("basic")(torch.rand(4, 4))


def test_eval_transform_is_deterministic_resize_and_centre_crop():
    image = torch.rand(3, 30, 50)
    a, b = eval_transform(20)(image), eval_transform(20)(image)
    assert torch.equal(a, b) and a.shape == (3, 20, 20)
    video = image.expand(3, -1, -1, -1)
    assert torch.equal(eval_transform(20)(video)[2], a)


def test_frame_shared_noise_is_one_pattern_per_call():
    noise = FrameSharedGaussianNoise(sigma=0.1)
    from torchvision import tv_tensors

    video = tv_tensors.Video(torch.full((4, 3, 8, 8), 0.5))
    out = noise(video)
    assert torch.equal(out, out[:1].expand_as(out)) and not torch.equal(out, video)
    assert not torch.equal(noise(video), out)  # a new draw on the next call


def test_pseudo_video_shape_dtype_and_identity_start():
    still = texture(3, 48, 40).float().div(255)
    clip = PseudoVideo(frames=6)(still, start=CameraPose())
    assert clip.shape == (6, 3, 48, 40) and clip.dtype == still.dtype
    torch.testing.assert_close(clip[0], still, atol=1e-4, rtol=0)
    as_uint8 = PseudoVideo(frames=3)(texture(3, 48, 40))
    assert as_uint8.dtype == torch.uint8 and as_uint8.shape == (3, 3, 48, 40)


def test_pseudo_video_is_smooth():
    still = texture(4, 64, 64).float().div(255)
    torch.manual_seed(0)
    clip = PseudoVideo(frames=9, max_zoom=0.3, max_shift=0.15, max_rotation=10)(still)
    steps = (clip[1:] - clip[:-1]).abs().mean(dim=(1, 2, 3))  # (T - 1,)
    span = (clip[-1] - clip[0]).abs().mean()
    assert steps.max() < 0.5 * span  # each step is a small part of the whole camera move
    assert steps.max() < 0.05


def test_pseudo_video_is_seeded_by_the_global_generator():
    still = texture(5, 32, 32).float().div(255)
    make = PseudoVideo(frames=4)
    torch.manual_seed(7)
    a = make(still)
    torch.manual_seed(7)
    b = make(still)
    torch.manual_seed(8)
    c = make(still)
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ValueError, match="still image"):
        make(torch.rand(2, 3, 8, 8))
