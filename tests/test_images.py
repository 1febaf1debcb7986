"""Image folders and Stanford 40 on PIL: formats, labels, splits, person boxes, clear errors."""

import warnings

import pytest
import torch
from datafiles import (
    texture,
    write_corrupt_jpeg,
    write_image_file,
    write_image_folder,
    write_stanford40,
)

from rvit.data.images import BadFilesError, ImageFolderActions, Stanford40, load_image
from rvit.data.mappings import STANFORD40_CLASSES


@pytest.mark.parametrize(
    ("name", "mode"),
    [
        ("a.jpg", "RGB"),
        ("b.png", "RGB"),
        ("c.png", "L"),
        ("d.png", "RGBA"),
        ("e.jpg", "CMYK"),
        ("f.png", "P"),
    ],
)
def test_every_image_mode_loads_as_rgb(tmp_path, name, mode):
    path = write_image_file(tmp_path / name, mode=mode, size=20)
    image = load_image(path)
    assert image.dtype == torch.uint8 and image.shape == (3, 20, 20)
    original = texture(0, 20, 20).float()
    if mode == "L":
        assert torch.equal(image[0], image[1]) and torch.equal(image[1], image[2])
    else:
        assert (image.float() - original).abs().mean() < 12  # same picture, lossy formats aside


def test_folder_labels_follow_sorted_class_names(tmp_path):
    write_image_folder(tmp_path, {"Waving": 2, "Applauding": 3, "Jumping": 1})
    ds = ImageFolderActions(tmp_path)
    assert ds.classes == ["Applauding", "Jumping", "Waving"]
    assert ds.targets == [0, 0, 0, 1, 2, 2]
    for (path, label), target in zip(ds.samples, ds.targets, strict=True):
        assert label == target and f"/{ds.classes[label]}/" in path
    image, label = ds[3]
    assert image.dtype == torch.float32 and 0 <= image.min() and image.max() <= 1
    assert label == 1


def test_given_classes_set_the_label_order(tmp_path):
    write_image_folder(tmp_path, {"a": 1, "b": 1, "c": 1})
    ds = ImageFolderActions(tmp_path, classes=["c", "a"])
    assert ds.classes == ["c", "a"] and ds.targets == [0, 1]
    with pytest.raises(FileNotFoundError, match="zzz"):
        ImageFolderActions(tmp_path, classes=["a", "zzz"])


def test_image_size_and_transform_are_applied(tmp_path):
    write_image_folder(tmp_path, {"a": 1})
    ds = ImageFolderActions(tmp_path, image_size=16, transform=lambda x: x * 0 + 0.5)
    image, _ = ds[0]
    assert image.shape == (3, 16, 16) and torch.all(image == 0.5)


def test_non_image_files_give_one_warning_with_count_and_example(tmp_path):
    write_image_folder(tmp_path, {"a": 2})
    (tmp_path / "a" / "notes.txt").write_text("x")
    (tmp_path / "a" / "labels.csv").write_text("x")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = ImageFolderActions(tmp_path)
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1 and "2 non-image" in messages[0] and "labels.csv" in messages[0]
    assert len(ds) == 2


def test_corrupt_image_raises_naming_its_path_or_is_skipped(tmp_path):
    write_image_folder(tmp_path, {"a": 2})
    bad = write_corrupt_jpeg(tmp_path / "a" / "broken.jpg")
    ds = ImageFolderActions(tmp_path, on_bad_file=None)  # read only when loaded
    position = [p for p, _ in ds.samples].index(str(bad))
    with pytest.raises(ValueError, match="broken.jpg"):
        ds[position]
    with pytest.raises(BadFilesError, match="1 unreadable.*broken.jpg") as caught:
        ImageFolderActions(tmp_path)  # the default reads every file when the set is built
    assert [path for path, _ in caught.value.bad_files] == [str(bad)]
    with pytest.warns(UserWarning, match="1 unreadable"):
        skipping = ImageFolderActions(tmp_path, on_bad_file="skip")
    assert skipping.skipped == 1 and skipping.skipped_paths == [str(bad)]
    assert len(skipping) == 2 and all(skipping[i][0].shape[0] == 3 for i in range(2))


def test_empty_root_and_empty_class_folder_raise(tmp_path):
    with pytest.raises(ValueError, match="no class folders"):
        ImageFolderActions(tmp_path)
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match=r"'.*a' holds no image"):
        ImageFolderActions(tmp_path)
    with pytest.raises(FileNotFoundError, match="missing"):
        ImageFolderActions(tmp_path / "missing")
    with pytest.raises(ValueError, match="on_bad_file"):
        ImageFolderActions(tmp_path, on_bad_file="ignore")


def test_stanford40_labels_follow_sorted_names_on_the_full_class_list(tmp_path):
    train = [f"{c}_{i:03d}.jpg" for c in STANFORD40_CLASSES for i in (1, 2)]
    test = [f"{c}_{i:03d}.jpg" for c in STANFORD40_CLASSES[:3] for i in (7,)]
    root = write_stanford40(tmp_path, train, test, size=(8, 8))
    ds = Stanford40(root, "train")
    assert ds.classes == sorted(STANFORD40_CLASSES)
    index = ds.class_to_idx
    assert (index["applauding"], index["riding_a_horse"], index["watching_TV"]) == (0, 25, 36)
    for path, label in ds.samples:
        assert path.rsplit("/", 1)[1].startswith(ds.classes[label] + "_")
    test_set = Stanford40(root, "test")
    assert test_set.classes == ds.classes  # one label order for both splits
    assert len(test_set) == 3 and test_set.targets == [0, 1, 2]


def test_stanford40_person_crop_uses_the_one_based_box(tmp_path):
    root = write_stanford40(tmp_path, ["applauding_001.jpg"], ["jumping_001.jpg"], size=(40, 32))
    full, _ = Stanford40(root, "train")[0]
    crop, _ = Stanford40(root, "train", crop_person=True)[0]
    assert full.shape == (3, 32, 40)
    assert crop.shape == (3, 16, 20)  # the middle half: 1-based xmin 11 .. xmax 30
    assert crop.mean() > 0.95 and full.mean() < 0.6  # the white person box only


def test_stanford40_errors_name_the_missing_piece(tmp_path):
    with pytest.raises(FileNotFoundError, match="train.txt"):
        Stanford40(tmp_path, "train")
    root = write_stanford40(tmp_path, ["applauding_001.jpg"], ["jumping_001.jpg"])
    (root / "JPEGImages" / "jumping_001.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="jumping_001.jpg"):
        Stanford40(root, "test")
    with pytest.raises(ValueError, match="split"):
        Stanford40(root, "val")
