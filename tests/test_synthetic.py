"""Tests of the synthetic action world: determinism, splits, shapes, labels, the domain gap, and the
property the world is built for: single frames identify appearance classes but not motion pairs."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from matplotlib.figure import Figure

from rvit.data.figures import filmstrips, gallery
from rvit.data.render import (
    Boxes,
    FrameParams,
    Strokes,
    noise_offsets,
    render_batch,
    stroke_coverage,
)
from rvit.data.synthetic import (
    APPEARANCE_CLASSES,
    CLASS_GROUPS,
    CLASSES,
    MOTION_PAIRS,
    SyntheticActions,
)


def _all(ds: SyntheticActions) -> list[torch.Tensor]:
    return [ds[i][0] for i in range(len(ds))]


# -- the classes -------------------------------------------------------------------------------------


def test_class_catalogue_is_consistent() -> None:
    assert len(CLASSES) == 12 and len(set(CLASSES)) == 12
    assert list(CLASS_GROUPS) == CLASSES
    assert [c for c in CLASSES if CLASS_GROUPS[c] == "appearance"] == APPEARANCE_CLASSES
    assert len(APPEARANCE_CLASSES) == 6 and len(MOTION_PAIRS) == 3
    in_pairs = [name for pair in MOTION_PAIRS for name in pair]
    assert sorted(in_pairs) == sorted(c for c in CLASSES if CLASS_GROUPS[c] == "motion")


# -- determinism and splits -------------------------------------------------------------------------


@pytest.mark.parametrize("modality", ["image", "video"])
def test_same_seed_gives_identical_tensors(modality: str) -> None:
    kwargs = {"modality": modality, "num_samples": 12, "frames": 3, "image_size": 16}
    first = _all(SyntheticActions("train", **kwargs))
    again = _all(SyntheticActions("train", **kwargs))  # a fresh instance renders it again
    uncached = _all(SyntheticActions("train", cache=False, **kwargs))  # one sample at a time
    for a, b, c in zip(first, again, uncached, strict=True):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert not any(torch.equal(first[0], x) for x in first[1:])  # different index -> different


def test_sample_is_a_function_of_seed_and_index_only() -> None:
    small = SyntheticActions("val", "video", num_samples=12, frames=4, image_size=16)
    large = SyntheticActions("val", "video", num_samples=40, frames=4, image_size=16)
    for i in range(12):
        assert torch.equal(small[i][0], large[i][0])
    other_seed = SyntheticActions("val", "video", num_samples=12, frames=4, image_size=16, seed=1)
    assert not any(torch.equal(small[i][0], other_seed[i][0]) for i in range(12))


def test_splits_never_share_a_sample() -> None:
    kwargs = {"modality": "image", "num_samples": 48, "image_size": 16}
    splits = {s: _all(SyntheticActions(s, **kwargs)) for s in ("train", "val", "test")}
    keys = {SyntheticActions(s, **kwargs).key for s in splits}
    assert len(keys) == 3
    names = list(splits)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            for x in splits[a]:
                assert not any(torch.equal(x, y) for y in splits[b]), (a, b)


# -- shapes, lengths, labels -------------------------------------------------------------------------


@pytest.mark.parametrize("size", [16, 32, 64])
@pytest.mark.parametrize("modality,frames", [("image", 8), ("video", 1), ("video", 5)])
def test_shapes_dtypes_and_ranges(modality: str, frames: int, size: int) -> None:
    ds = SyntheticActions("train", modality, num_samples=12, frames=frames, image_size=size)
    expected = (3, size, size) if modality == "image" else (frames, 3, size, size)
    for i in range(len(ds)):
        x, label = ds[i]
        assert x.shape == expected and x.dtype == torch.float32
        assert 0.0 <= float(x.min()) and float(x.max()) <= 1.0
        assert isinstance(label, int) and label == ds.targets[i]
    assert ds.lengths == ([1] * 12 if modality == "image" else [frames] * 12)


def test_variable_length_clips() -> None:
    ds = SyntheticActions("train", "video", num_samples=30, frames=(2, 6), image_size=16)
    assert ds.frames == (2, 6)
    assert all(2 <= t <= 6 for t in ds.lengths) and len(set(ds.lengths)) > 1
    for i in range(len(ds)):
        assert ds[i][0].shape[0] == ds.lengths[i] == ds.sample_params(i)["frames"]
    again = SyntheticActions("train", "video", num_samples=30, frames=(2, 6), image_size=16)
    assert again.lengths == ds.lengths
    assert (
        SyntheticActions("train", "video", num_samples=3, frames=(4, 4), image_size=16).frames == 4
    )


def test_labels_are_balanced() -> None:
    ds = SyntheticActions("train", "image", num_samples=60, image_size=16)
    counts = torch.bincount(torch.tensor(ds.targets), minlength=len(CLASSES))
    assert counts.tolist() == [5] * len(CLASSES)
    odd = SyntheticActions("train", "image", num_samples=29, image_size=16)
    counts = torch.bincount(torch.tensor(odd.targets), minlength=len(CLASSES))
    assert int(counts.max() - counts.min()) <= 1


def test_class_subset_relabels_in_given_order() -> None:
    subset = ["walk_left", "applauding", "squatting"]
    ds = SyntheticActions("train", "video", num_samples=9, frames=2, image_size=16, classes=subset)
    assert ds.classes == subset
    assert ds.groups == ["motion", "appearance", "appearance"]
    assert ds.class_groups == {
        "walk_left": "motion",
        "applauding": "appearance",
        "squatting": "appearance",
    }
    assert sorted(set(ds.targets)) == [0, 1, 2]
    for i in range(len(ds)):
        params = ds.sample_params(i)
        assert params["label"] == ds[i][1]
        assert params["class_name"] == subset[params["label"]]


def test_transform_receives_each_sample_once() -> None:
    seen = []

    def transform(x: torch.Tensor) -> torch.Tensor:
        seen.append(tuple(x.shape))
        return x * 0.5

    ds = SyntheticActions(
        "train", "video", num_samples=4, frames=3, image_size=16, transform=transform
    )
    plain = SyntheticActions("train", "video", num_samples=4, frames=3, image_size=16)
    for i in range(4):
        torch.testing.assert_close(ds[i][0], plain[i][0] * 0.5)
    assert seen == [(3, 3, 16, 16)] * 4


def test_dataloader_batches_clips() -> None:
    ds = SyntheticActions("train", "video", num_samples=8, frames=3, image_size=16)
    videos, labels = next(iter(torch.utils.data.DataLoader(ds, batch_size=4)))
    assert videos.shape == (4, 3, 3, 16, 16) and labels.tolist() == ds.targets[:4]


def test_indexing_errors_and_negative_indices() -> None:
    ds = SyntheticActions("train", "image", num_samples=5, image_size=16)
    assert torch.equal(ds[-1][0], ds[4][0])
    with pytest.raises(IndexError, match="out of range"):
        ds[5]
    with pytest.raises(ValueError, match="label"):
        ds.render(0, label=99)


# -- stills, clips and the domain gap ------------------------------------------------------------------


def test_still_is_a_random_frame_of_the_clip_without_domain_gap() -> None:
    kwargs = {"num_samples": 24, "frames": (3, 7), "image_size": 32, "difficulty": 0.8}
    stills = SyntheticActions("train", "image", **kwargs)
    clips = SyntheticActions("train", "video", domain_gap=0.0, **kwargs)
    picked = set()
    for i in range(len(stills)):
        k = clips.sample_params(i)["still_frame"]
        picked.add(k)
        assert torch.equal(stills[i][0], clips[i][0][k])
    assert len(picked) > 2  # the still's time varies from sample to sample


def _high_frequency_energy(x: torch.Tensor) -> float:
    """Mean squared difference of neighbouring pixels, (..., H, W) -> scalar."""
    return float((x.diff(dim=-1) ** 2).mean() + (x.diff(dim=-2) ** 2).mean())


def test_domain_gap_degrades_videos_only() -> None:
    kwargs = {"num_samples": 24, "frames": 4, "image_size": 32, "difficulty": 0.2}
    clean = torch.stack(_all(SyntheticActions("test", "video", domain_gap=0.0, **kwargs)))
    video = torch.stack(_all(SyntheticActions("test", "video", domain_gap=1.0, **kwargs)))
    assert float((video - clean).abs().mean()) > 0.02
    assert _high_frequency_energy(video) < 0.8 * _high_frequency_energy(clean)  # blur
    assert float(video.std(dim=(-1, -2)).mean()) < float(clean.std(dim=(-1, -2)).mean())  # contrast
    # stills ignore the domain gap entirely
    photos = _all(SyntheticActions("test", "image", domain_gap=0.0, **kwargs))
    still_gap = _all(SyntheticActions("test", "image", domain_gap=1.0, **kwargs))
    assert all(torch.equal(a, b) for a, b in zip(photos, still_gap, strict=True))
    # a small gap changes less than a large one
    mild = torch.stack(_all(SyntheticActions("test", "video", domain_gap=0.3, **kwargs)))
    assert float((mild - clean).abs().mean()) < float((video - clean).abs().mean())


# -- the motion pairs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("pair", MOTION_PAIRS)
def test_motion_pair_classes_are_the_same_frames_in_reverse(pair: tuple[str, str]) -> None:
    ds = SyntheticActions("train", "video", num_samples=6, frames=5, image_size=32, difficulty=0.0)
    forward, backward = CLASSES.index(pair[0]), CLASSES.index(pair[1])
    for i in range(3):
        a, b = ds.render(i, forward), ds.render(i, backward)
        assert torch.equal(a.flip(0), b)
        assert not torch.equal(a, b)  # the frames do change over the clip


def test_sample_params_describe_the_trajectory() -> None:
    classes = ["raise_arms", "lower_arms", "waving"]
    ds = SyntheticActions("train", "video", num_samples=6, frames=6, image_size=16, classes=classes)
    for i in range(6):
        p = ds.sample_params(i)
        assert 0 <= p["still_frame"] < p["frames"] and len(p["times"]) == 6
        if p["group"] == "motion":
            steps = torch.tensor(p["trajectory"]).diff()
            assert bool((steps > 0).all()) if not p["reverse"] else bool((steps < 0).all())
        else:
            assert "cycles" in p and "trajectory" not in p


def _silhouette(x: torch.Tensor) -> torch.Tensor:
    """How far each pixel is from the background colour (the median of the border): (N,3,H,W) -> (N,H,W)."""
    border = torch.cat([x[..., 0, :], x[..., -1, :], x[..., :, 0], x[..., :, -1]], dim=-1)
    background = border.median(dim=-1).values  # (N, 3)
    return (x - background[..., None, None]).norm(dim=-3)


def _features(x: torch.Tensor) -> torch.Tensor:
    """Simple frame features: a 16 x 16 silhouette plus its mass, centroid and spread. (N,3,32,32) -> (N, 261)."""
    m = _silhouette(x)
    t = torch.arange(m.shape[-1], dtype=torch.float32)
    mass = m.sum(dim=(1, 2)) + 1e-6
    cx = (m.sum(1) * t).sum(1) / mass
    cy = (m.sum(2) * t).sum(1) / mass
    sxx = (m.sum(1) * (t - cx[:, None]) ** 2).sum(1) / mass
    syy = (m.sum(2) * (t - cy[:, None]) ** 2).sum(1) / mass
    moments = torch.stack([mass / 100, cx, cy, sxx, syy], dim=1)
    return torch.cat([F.avg_pool2d(m[:, None], 2).flatten(1), moments], dim=1)


def _ridge_accuracy(
    train: torch.Tensor, y: torch.Tensor, test: torch.Tensor, y_test: torch.Tensor
) -> float:
    """Closed-form ridge-regression classifier on standardised features; test accuracy."""
    mean, std = train.mean(0), train.std(0) + 1e-6

    def design(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([(x - mean) / std, torch.ones(len(x), 1)], dim=1)

    a = design(train)
    targets = F.one_hot(y, int(y.max()) + 1).float()
    weights = torch.linalg.solve(a.T @ a + 10.0 * torch.eye(a.shape[1]), a.T @ targets)
    return float(((design(test) @ weights).argmax(1) == y_test).float().mean())


def _stills(split: str, classes: list[str], n: int) -> tuple[torch.Tensor, torch.Tensor]:
    ds = SyntheticActions(
        split, "image", num_samples=n, image_size=32, difficulty=0.3, classes=classes
    )
    return torch.stack(_all(ds)), torch.tensor(ds.targets)


def _clips(split: str, classes: list[str], n: int) -> tuple[torch.Tensor, torch.Tensor]:
    ds = SyntheticActions(
        split, "video", num_samples=n, frames=3, image_size=32, difficulty=0.3, classes=classes
    )
    return torch.stack(_all(ds)), torch.tensor(ds.targets)


def test_single_frames_identify_appearance_classes() -> None:
    x, y = _stills("train", APPEARANCE_CLASSES, 600)
    x_test, y_test = _stills("test", APPEARANCE_CLASSES, 300)
    accuracy = _ridge_accuracy(_features(x), y, _features(x_test), y_test)
    assert accuracy > 0.8  # chance is 1/6


@pytest.mark.parametrize("pair", MOTION_PAIRS)
def test_motion_pairs_need_the_order_of_frames(pair: tuple[str, str]) -> None:
    # one frame: the two classes have the same distribution, so held-out accuracy is chance
    x, y = _stills("train", list(pair), 200)
    x_test, y_test = _stills("test", list(pair), 600)  # chance +- 0.1 is 5 standard deviations
    single = _ridge_accuracy(_features(x), y, _features(x_test), y_test)
    assert 0.40 <= single <= 0.60
    # the difference of the last and first frame separates them
    v, y = _clips("train", list(pair), 120)
    v_test, y_test = _clips("test", list(pair), 120)

    def difference(clips: torch.Tensor) -> torch.Tensor:
        return _features(clips[:, -1]) - _features(clips[:, 0])

    assert _ridge_accuracy(difference(v), y, difference(v_test), y_test) > 0.9


# -- bad arguments -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,name",
    [
        ({"split": "training"}, "split"),
        ({"modality": "audio"}, "modality"),
        ({"classes": ["applauding", "juggling"]}, "classes"),
        ({"classes": []}, "classes"),
        ({"classes": ["waving", "waving"]}, "classes"),
        ({"frames": 0}, "frames"),
        ({"frames": (3, 2)}, "frames"),
        ({"frames": (0, 4)}, "frames"),
        ({"frames": 2.5}, "frames"),
        ({"image_size": 15}, "image_size"),
        ({"domain_gap": -0.1}, "domain_gap"),
        ({"domain_gap": 1.5}, "domain_gap"),
        ({"difficulty": 2.0}, "difficulty"),
        ({"num_samples": 0}, "num_samples"),
        ({"seed": -1}, "seed"),
        ({"transform": "flip"}, "transform"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        SyntheticActions(**kwargs)


# -- the rasteriser ------------------------------------------------------------------------------------


def _brute_force_coverage(segments: torch.Tensor, radius: torch.Tensor, size: int) -> torch.Tensor:
    """Distance from every pixel centre to every segment, the obvious way."""
    t = torch.arange(size, dtype=torch.float32) + 0.5
    p = torch.stack(torch.meshgrid(t, t, indexing="xy"), dim=-1)  # (H, W, 2) as (x, y)
    a = segments[:, :, 0, None, None]  # (N, S, 1, 1, 2)
    d = segments[:, :, 1, None, None] - a
    rel = p - a
    along = ((rel * d).sum(-1) / (d * d).sum(-1).clamp_min(1e-12)).clamp(0, 1)
    dist = (rel - along[..., None] * d).norm(dim=-1) - radius[..., None, None]
    return (0.5 - dist.amin(dim=1)).clamp(0, 1)


@pytest.mark.parametrize("size", [16, 32, 64])
def test_windowed_stroke_coverage_matches_brute_force(size: int) -> None:
    g = torch.Generator().manual_seed(size)
    segments = (
        torch.rand(20, 6, 2, 2, generator=g) * 1.6 * size - 0.3 * size
    )  # some leave the frame
    segments[:, 0, 1] = segments[:, 0, 0]  # a disc in every frame
    radius = 0.3 + 3 * torch.rand(20, 6, generator=g)
    torch.testing.assert_close(
        stroke_coverage(segments, radius, size),
        _brute_force_coverage(segments, radius, size),
        atol=1e-4,
        rtol=0,
    )


def test_render_batch_draws_shapes_in_order_and_quantises_consistently() -> None:
    n, size = 3, 16
    params = FrameParams(
        image_size=size,
        background=torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0]]).expand(n, 2, 3),
        gradient=torch.tensor([1.0 / size, 0.0, 0.0]).expand(n, 3),  # black to white, left to right
        shapes=[
            Strokes(
                segments=torch.tensor([[[[4.0, 8.0], [12.0, 8.0]]]]).expand(n, 1, 2, 2),
                radius=torch.full((n, 1), 2.0),
                color=torch.tensor([1.0, 0.0, 0.0]).expand(n, 3),
                visible=torch.tensor([True, True, False]),
            ),
            Boxes(
                rect=torch.tensor([0.0, 0.0, 4.0, 4.0]).expand(n, 4),
                color=torch.tensor([0.0, 0.0, 1.0]).expand(n, 3),
                visible=torch.tensor([True, False, True]),
            ),
        ],
        noise_std=torch.zeros(n),
        noise_index=torch.zeros(n, dtype=torch.long),
    )
    images = render_batch(params)
    assert images.shape == (n, 3, size, size)
    torch.testing.assert_close(images[0, :, 8, 8], torch.tensor([1.0, 0.0, 0.0]))  # stroke centre
    torch.testing.assert_close(images[0, :, 1, 1], torch.tensor([0.0, 0.0, 1.0]))  # the box on top
    assert float(images[2, 0, 8, 8]) == pytest.approx(8.5 / size)  # invisible stroke: the gradient
    assert torch.equal(
        render_batch(params, dtype=torch.uint8), images.mul(255).round().to(torch.uint8)
    )
    noisy = FrameParams(**{**params.__dict__, "noise_std": torch.full((n,), 0.1)})
    noisy.noise_index = torch.tensor([0, 1, noise_offsets(size) - 1])
    difference = render_batch(noisy) - images
    assert 0.05 < float(difference[:, :, 6:12, 6:12].std()) < 0.15


def test_gallery_and_filmstrips_build_figures() -> None:
    fig = gallery({"image_size": 16, "difficulty": 0.0}, per_class=2)
    assert isinstance(fig, Figure) and len(fig.axes) == 2 * len(CLASSES)
    labels = {ax.get_ylabel() for ax in fig.axes} - {""}
    assert len(labels) == len(CLASSES)
    strips = filmstrips(frames=3, pairs=MOTION_PAIRS[:1], image_size=16)
    assert [ax.get_xlabel() for ax in strips.axes[:3]] == ["t = 0", "t = 1", "t = 2"]
    with pytest.raises(ValueError, match="pairs"):
        filmstrips(frames=3, pairs=[("waving", "kicking")])


def test_strokes_with_a_colour_per_segment_are_painted_in_order() -> None:
    size = 16
    segments = torch.tensor(
        [[[[2.0, 8.0], [14.0, 8.0]], [[8.0, 2.0], [8.0, 14.0]], [[3.0, 3.0], [3.0, 3.0]]]]
    )
    params = FrameParams(
        image_size=size,
        background=torch.zeros(1, 2, 3),
        gradient=torch.zeros(1, 3),
        shapes=[
            Strokes(
                segments=segments,
                radius=torch.tensor([[1.5, 1.5, -1.0]]),  # the third (a disc) is switched off
                color=torch.eye(3)[None],  # red, green, blue
                visible=torch.tensor([True]),
            )
        ],
        noise_std=torch.zeros(1),
        noise_index=torch.zeros(1, dtype=torch.long),
    )
    image = render_batch(params)[0]
    torch.testing.assert_close(image[:, 8, 3], torch.tensor([1.0, 0.0, 0.0]))  # only the red one
    torch.testing.assert_close(image[:, 8, 8], torch.tensor([0.0, 1.0, 0.0]))  # green drawn last
    assert float(image[:, 3, 3].abs().max()) == 0.0  # the negative-radius disc draws nothing


def test_rendering_after_inference_mode_still_works_outside_it() -> None:
    # the scratch buffers of the renderer outlive a call: one first made under inference_mode
    # (a test set rendered during an evaluation) must not break rendering a training set later
    with torch.inference_mode():
        inside = SyntheticActions("test", num_samples=4, image_size=16, seed=3)[0][0]
    outside = SyntheticActions("train", num_samples=4, image_size=16, seed=3)[0][0]
    assert not outside.is_inference()
    assert inside.shape == outside.shape
