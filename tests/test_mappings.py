"""Class mappings between Stanford 40, UCF101 and HMDB51, and restriction to shared classes."""

import pytest
import torch

from rvit.data import mappings
from rvit.data.labels import restrict_to_shared


class Named(torch.utils.data.Dataset):
    """A labelled toy set: item i is (tensor([i]), label) over ``classes``."""

    def __init__(self, classes, targets):
        self.classes, self.targets = list(classes), list(targets)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, i):
        return torch.tensor([i]), self.targets[i]


def _values(mapping):
    for value in mapping.values():
        yield from ([value] if isinstance(value, str) else value)


def test_mappings_are_documented_and_well_formed():
    assert len(mappings.STANFORD40_CLASSES) == 40
    assert list(mappings.STANFORD40_CLASSES) == sorted(mappings.STANFORD40_CLASSES)
    assert len(mappings.STANFORD40_HMDB51) == 12
    assert set(mappings.STANFORD40_HMDB51) <= set(mappings.STANFORD40_CLASSES)
    assert set(mappings.STANFORD40_UCF101) <= set(mappings.STANFORD40_CLASSES)
    assert len(set(_values(mappings.UCF101_HMDB51))) == 12
    for name in ("STANFORD40_HMDB51", "STANFORD40_UCF101", "UCF101_HMDB51", "IN_ALL_THREE"):
        assert name in mappings.SOURCES
    assert "name matching" in mappings.SOURCES["STANFORD40_UCF101"].lower()


def test_the_three_way_table_agrees_with_the_pairwise_mappings():
    for stanford, hmdb, ucf in mappings.IN_ALL_THREE:
        # walking_the_dog <-> walk is the one loose match, absent from the 12 published pairs
        assert mappings.STANFORD40_HMDB51.get(stanford, hmdb) == hmdb
        assert ucf in set(_values({0: mappings.STANFORD40_UCF101[stanford]}))
        assert mappings.UCF101_HMDB51[ucf] == hmdb


def test_restrict_to_shared_relabels_both_sets_into_one_space():
    images = Named(["applauding", "climbing", "cooking", "running"], [0, 1, 2, 3, 1, 3])
    videos = Named(["brush_hair", "clap", "climb", "run"], [0, 1, 2, 3, 3, 2])
    image_view, video_view = restrict_to_shared(images, videos, mappings.STANFORD40_HMDB51)
    assert image_view.classes == video_view.classes == ["applauding", "climbing", "running"]
    assert image_view.indices == [0, 1, 3, 4, 5]  # cooking left out
    assert image_view.targets == [0, 1, 2, 1, 2]
    assert video_view.indices == [1, 2, 3, 4, 5]  # brush_hair left out
    assert video_view.targets == [0, 1, 2, 2, 1]
    x, y = video_view[0]
    assert x.item() == 1 and y == 0  # the clap video is the applauding class


def test_one_to_many_mapping_shares_one_label_and_names_are_normalised():
    images = Named(["climbing", "Playing Guitar"], [0, 1])
    videos = Named(["Biking", "PlayingGuitar", "RockClimbingIndoor", "RopeClimbing"], [0, 1, 2, 3])
    image_view, video_view = restrict_to_shared(images, videos, mappings.STANFORD40_UCF101)
    assert image_view.classes == ["climbing", "Playing Guitar"]
    assert video_view.indices == [1, 2, 3] and video_view.targets == [1, 0, 0]


def test_restrict_to_shared_with_nothing_shared_raises():
    with pytest.raises(ValueError, match="share no class"):
        restrict_to_shared(
            Named(["cooking"], [0]), Named(["clap"], [0]), mappings.STANFORD40_HMDB51
        )
