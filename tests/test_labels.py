"""One label space for image and video sets: labels follow names, never positions."""

import pytest
from datafiles import write_image_folder, write_index_video

from rvit.data.images import ImageFolderActions
from rvit.data.labels import LabelSpace, normalize_name
from rvit.data.videosets import VideoFolder


@pytest.fixture
def sets(tmp_path):
    """Image classes and video classes that sort differently and are spelled differently.

    images: Playing_Guitar, bike_riding, waving       (sorted: 'P' < 'b' < 'w')
    videos: Biking, playing guitar, waving            (sorted: 'B' < 'p' < 'w')
    """
    images = write_image_folder(
        tmp_path / "images", {"Playing_Guitar": 2, "bike_riding": 1, "waving": 1}
    )
    for name, count in {"playing guitar": 1, "Biking": 2, "waving": 1}.items():
        for i in range(count):
            write_index_video(tmp_path / "videos" / name / f"{name}_{i}.mp4", 2)
    return ImageFolderActions(images), VideoFolder(tmp_path / "videos", frames=1)


def test_normalize_name_ignores_case_spaces_underscores_and_hyphens():
    names = [
        "Playing_Guitar",
        "playing guitar",
        "PlayingGuitar",
        "playing-guitar",
        " playing  guitar",
    ]
    assert {normalize_name(n) for n in names} == {"playingguitar"}


def test_unmapped_difference_is_named_in_the_error(sets):
    image_set, video_set = sets
    with pytest.raises(ValueError) as info:
        LabelSpace.from_sets(image_set, video_set)
    message = str(info.value)
    assert "'bike_riding'" in message and "'Biking'" in message
    assert "Playing_Guitar" not in message  # that one matched by normalised name


def test_labels_stay_right_with_an_explicit_mapping(sets, tmp_path):
    image_set, video_set = sets
    mapping_file = tmp_path / "mapping.yaml"
    mapping_file.write_text("bike_riding: Biking\n")
    space = LabelSpace.from_sets(image_set, video_set, mapping=mapping_file)
    assert space.classes == ["Playing_Guitar", "bike_riding", "waving"]
    assert space.index("playing guitar") == space.index("PlayingGuitar") == 0
    assert space.index("Biking") == 1
    images, videos = space.apply(image_set), space.apply(video_set)
    # A label names the same action in both views, whatever the folders' sort order was.
    for view in (images, videos):
        for (path, label), target in zip(view.samples, view.targets, strict=True):
            folder = path.rsplit("/", 2)[1]
            assert label == target == space.index(folder)
    assert video_set.targets != videos.targets  # the raw video labels were in another order
    assert videos[0][1] == videos.targets[0]


def test_csv_mapping_and_dict_mapping_agree(sets, tmp_path):
    image_set, video_set = sets
    csv_file = tmp_path / "mapping.csv"
    csv_file.write_text("image,video\n# comment row\nbike_riding, Biking\n")
    assert LabelSpace.load_mapping(csv_file) == {"bike_riding": "Biking"}
    from_csv = LabelSpace.from_sets(image_set, video_set, mapping=csv_file)
    from_dict = LabelSpace.from_sets(image_set, video_set, mapping={"Biking": "bike_riding"})
    assert from_csv.classes == from_dict.classes
    assert from_csv.apply(video_set).targets == from_dict.apply(video_set).targets


def test_drop_leaves_out_one_sided_classes_and_reports_them(sets):
    image_set, video_set = sets
    space = LabelSpace.from_sets(image_set, video_set, on_missing="drop")
    assert space.classes == ["Playing_Guitar", "waving"]
    assert space.missing == {"image": ["bike_riding"], "video": ["Biking"]}
    images = space.apply(image_set)
    assert images.targets == [0, 0, 1] and len(images) == 3
    assert "bike_riding" in space.describe()
    with pytest.raises(ValueError, match="bike_riding"):
        space.apply(image_set, on_missing="error")


def test_bad_inputs_raise_clear_errors(sets, tmp_path):
    image_set, video_set = sets
    with pytest.raises(ValueError, match="not in the label space"):
        LabelSpace(["a", "b"]).index("c")
    with pytest.raises(ValueError, match="differ only in case"):
        LabelSpace(["Run", "run"])
    with pytest.raises(FileNotFoundError, match="nope.yaml"):
        LabelSpace.load_mapping(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(ValueError, match="bad.yaml"):
        LabelSpace.load_mapping(bad)
    with pytest.warns(UserWarning, match="Bikin"):
        LabelSpace.from_sets(
            image_set, video_set, mapping={"bike_riding": "Bikin"}, on_missing="drop"
        )
