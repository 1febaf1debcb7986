"""Frame-by-frame evaluation: per-frame predictions, online curve, groups, determinism, tables."""

import json
import math

import pytest
import torch
from torch.utils.data import Dataset
from torchvision.transforms import v2

from rvit.baselines import FrameViT
from rvit.config import RViTConfig
from rvit.data import PseudoVideo, eval_transform, make_transform, pad_videos
from rvit.data.augment import find_random_transforms
from rvit.data.clips import PseudoVideoClips
from rvit.evaluate import VideoEvalResult, evaluate_images, evaluate_videos
from rvit.model import RViT

K, SIZE = 6, 16


class NoiseVideos(Dataset):
    """Noise videos, label = index mod K; lengths cycle through ``lengths``; pure in the index."""

    classes = [f"c{k}" for k in range(K)]
    groups = ["appearance"] * 3 + ["motion"] * 3

    def __init__(self, n=10, lengths=(4,), transform=None):
        self.n, self.lengths, self.transform = n, lengths, transform

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        g = torch.Generator().manual_seed(index)
        video = torch.rand(self.lengths[index % len(self.lengths)], 3, SIZE, SIZE, generator=g)
        if self.transform is not None:
            video = self.transform(video)
        return video, index % K


class Stills(NoiseVideos):
    def __getitem__(self, index):
        video, label = super().__getitem__(index)
        return video[0], label


def tiny_model(cls=RViT, seed=0):
    torch.manual_seed(seed)
    cfg = RViTConfig.paper(num_classes=K, image_size=SIZE, dim=32, depth=2, heads=2, patch_size=4)
    return cls(cfg).eval()


def run(model, data, **kwargs):
    kwargs.setdefault("batch_size", 4)
    return evaluate_videos(model, data, device="cpu", progress=False, **kwargs)


# --- per-frame predictions -----------------------------------------------------------------------


@pytest.mark.parametrize("cls", [RViT, FrameViT])
def test_per_frame_predictions_equal_the_batched_forward(cls):
    model, data = tiny_model(cls), NoiseVideos(7, lengths=(5, 2, 3))
    result = run(model, data, keep_logits=True)
    videos, lengths, labels = pad_videos([data[i] for i in range(len(data))])
    with torch.no_grad():
        expected = model(videos, lengths=lengths, return_all=True)  # (N, T, K)
    assert result.lengths == lengths.tolist() and result.targets == labels.tolist()
    for i, length in enumerate(result.lengths):
        torch.testing.assert_close(result.frame_logits[i], expected[i, :length], atol=1e-5, rtol=0)
        assert result.frame_predictions[i] == expected[i, :length].argmax(-1).tolist()
        assert result.predictions[i] == result.frame_predictions[i][-1]


def test_frames_after_a_video_ends_are_not_counted():
    model, data = tiny_model(), NoiseVideos(6, lengths=(2, 6))
    together = run(model, data, batch_size=6, keep_logits=True)
    alone = run(model, data, batch_size=1, keep_logits=True)
    assert together.frame_predictions == alone.frame_predictions
    assert [len(p) for p in together.frame_predictions] == together.lengths == [2, 6] * 3
    for a, b in zip(together.frame_logits, alone.frame_logits, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=0)
    # the curve counts only the videos still running at frame t
    assert [p["videos"] for p in together.online] == [6, 6, 3, 3, 3, 3]


def test_online_curve_ends_at_top1_for_equal_lengths():
    result = run(tiny_model(), NoiseVideos(9, lengths=(3,)))
    assert [p["frames_seen"] for p in result.online] == [1, 2, 3]
    assert result.online[-1]["accuracy"] == result.top1
    hits = [p[0] == y for p, y in zip(result.frame_predictions, result.targets, strict=True)]
    assert result.online[0]["accuracy"] == sum(hits) / len(hits)


# --- scores ------------------------------------------------------------------------------------


def test_accuracies_agree_with_predictions():
    result = run(tiny_model(), NoiseVideos(12, lengths=(2, 3)))
    correct = [p == y for p, y in zip(result.predictions, result.targets, strict=True)]
    assert result.top1 == sum(correct) / 12
    assert result.top5_k == 5 and result.top1 <= result.top5 <= 1
    confusion = result.confusion
    assert confusion.sum() == 12 and confusion.trace() == sum(correct)
    per_class = result.per_class_accuracy
    assert per_class[0] == confusion[0, 0] / confusion[0].sum()
    by_group = {"appearance": [], "motion": []}
    for y, hit in zip(result.targets, correct, strict=True):
        by_group[NoiseVideos.groups[y]].append(hit)
    assert result.group_accuracy == {g: sum(h) / len(h) for g, h in by_group.items()}
    assert result.summary()["top1_motion"] == result.group_accuracy["motion"]


class ThreeClasses(NoiseVideos):
    classes, groups = ["a", "b", "c"], None

    def __getitem__(self, index):
        return super().__getitem__(index)[0], index % 3


def test_top5_is_capped_at_the_number_of_classes():
    torch.manual_seed(0)
    cfg = RViTConfig.paper(num_classes=3, image_size=SIZE, dim=32, depth=1, heads=2, patch_size=4)
    result = run(RViT(cfg).eval(), ThreeClasses(4))
    assert result.top5_k == 3 and result.top5 == 1.0
    assert result.group_accuracy == {} and "top3" in result.summary()


def test_images_are_one_frame_videos():
    model, data = tiny_model(), Stills(8)
    result = evaluate_images(model, data, batch_size=3, device="cpu", progress=False)
    images = torch.stack([data[i][0] for i in range(8)])
    with torch.no_grad():
        expected = model(images).argmax(-1).tolist()
    assert result.predictions == expected and result.lengths == [1] * 8
    assert len(result.online) == 1 and result.online[0]["accuracy"] == result.top1


def test_speed_and_memory_are_reported():
    result = run(tiny_model(), NoiseVideos(4, lengths=(3,)))
    assert result.frames_per_s > 0 and result.step_latency_ms > 0
    assert math.isclose(result.ms_per_frame, 1000 / result.frames_per_s)
    assert result.memory_method and result.device == "cpu"


# --- determinism -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("transform", "name"),
    [
        (v2.Compose([v2.Identity(), v2.RandomHorizontalFlip()]), "RandomHorizontalFlip"),
        (v2.ColorJitter(0.2), "ColorJitter"),
        (v2.RandomApply([v2.Identity()]), "RandomApply"),
        (make_transform("strong", SIZE), "Random"),
    ],
)
def test_random_transforms_are_rejected(transform, name):
    with pytest.raises(ValueError, match=name):
        run(tiny_model(), NoiseVideos(2, transform=transform))


def test_pseudo_videos_are_rejected_and_eval_transform_is_accepted():
    with pytest.raises(ValueError, match="PseudoVideo"):
        evaluate_videos(tiny_model(), PseudoVideoClips(Stills(2), 3), progress=False)
    assert find_random_transforms(NoiseVideos(2, transform=eval_transform(SIZE))) == []
    assert find_random_transforms(PseudoVideo(frames=2)) == ["dataset: PseudoVideo"]


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(ValueError, match="evaluate_images"):
        run(tiny_model(), Stills(2))
    with pytest.raises(ValueError, match="evaluate_videos"):
        evaluate_images(tiny_model(), NoiseVideos(2), progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        run(tiny_model(), NoiseVideos(2), batch_size=0)
    with pytest.raises(ValueError, match="init_state"):
        run(torch.nn.Linear(2, 2), NoiseVideos(2))


# --- tables and JSON ---------------------------------------------------------------------------


def test_tables_and_json_round_trip(tmp_path):
    result = run(tiny_model(), NoiseVideos(8, lengths=(2, 3)), max_videos=6)
    assert result.num_videos == 6
    assert list(result.online_frame().columns) == ["frames_seen", "accuracy", "videos"]
    per_class = result.per_class_frame()
    assert per_class["videos"].sum() == 6 and list(per_class["class"]) == NoiseVideos.classes
    assert result.confusion_frame().to_numpy().sum() == 6
    assert result.summary_frame().shape[0] == 1
    path = result.to_json(tmp_path / "eval.json")
    data = json.loads(path.read_text())
    assert data["summary"]["top1"] == result.top1
    assert VideoEvalResult.from_dict(data) == result
    assert [p.name for p in tmp_path.iterdir()] == ["eval.json"]
