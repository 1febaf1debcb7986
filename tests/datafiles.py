"""Writers of small data files for the data tests: images, videos, official split layouts.

Every video written here encodes the index of each frame in its grey level (``frame_level(t)``), so a
test can read a frame back and tell which frame it is, through lossy compression.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from rvit.data.video import write_video

LEVEL0, LEVEL_STEP = 16, 10  # grey level of frame t: 16 + 10 t (up to 22 frames)


def frame_level(t: int) -> int:
    """Grey level that encodes frame index ``t``."""
    if not 0 <= t <= 22:
        raise ValueError(f"frame index {t} cannot be encoded in a grey level")
    return LEVEL0 + LEVEL_STEP * t


def index_of(frame: torch.Tensor) -> int:
    """Frame index read back from a uint8 or [0, 1] float frame ``(C, H, W)``."""
    mean = float(frame.float().mean()) * (255.0 if frame.is_floating_point() else 1.0)
    return round((mean - LEVEL0) / LEVEL_STEP)


def index_frames(num_frames: int, height: int = 32, width: int = 48) -> torch.Tensor:
    """uint8 ``(T, 3, H, W)``: frame ``t`` is a flat grey of level ``frame_level(t)``."""
    levels = torch.tensor([frame_level(t) for t in range(num_frames)], dtype=torch.uint8)
    return levels.view(-1, 1, 1, 1).expand(-1, 3, height, width).contiguous()


def write_index_video(
    path: Path, num_frames: int, height: int = 32, width: int = 48, codec: str | None = None
) -> Path:
    """An index-encoded video file (codec from the suffix unless given)."""
    return write_video(path, index_frames(num_frames, height, width), fps=25, codec=codec)


def write_index_frame_folder(
    folder: Path, num_frames: int, height: int = 32, width: int = 48, stem: str | None = None
) -> Path:
    """An index-encoded frame folder: ``<stem>_frame_<t + 1>.png`` (1-based, not zero-padded)."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = stem or folder.name
    for t, frame in enumerate(index_frames(num_frames, height, width)):
        save_rgb(folder / f"{stem}_frame_{t + 1}.png", frame)
    return folder


def save_rgb(path: Path, chw: torch.Tensor, **kwargs: object) -> Path:
    """Save a uint8 ``(3, H, W)`` tensor with PIL (format from the suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(chw.permute(1, 2, 0).numpy()).save(path, **kwargs)
    return path


def jpeg_round_trip(chw: torch.Tensor, quality: int = 75) -> torch.Tensor:
    """A uint8 ``(3, H, W)`` image after JPEG encoding and decoding with PIL."""
    buffer = io.BytesIO()
    Image.fromarray(chw.permute(1, 2, 0).numpy()).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as image:
        return torch.from_numpy(np.asarray(image.convert("RGB")).copy()).permute(2, 0, 1)


def texture(seed: int, height: int = 64, width: int = 64, cells: int = 6) -> torch.Tensor:
    """A smooth random colour texture, uint8 ``(3, H, W)``: no two seeds look alike."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, cells, cells, generator=g)
    smooth = torch.nn.functional.interpolate(
        coarse, size=(height, width), mode="bicubic", align_corners=False
    )[0]
    return (smooth.clamp(0, 1) * 255).round().to(torch.uint8)


def panning_frames(seed: int, num_frames: int, height: int = 64, width: int = 64) -> torch.Tensor:
    """uint8 ``(T, 3, H, W)``: a camera panning slowly across one large random texture."""
    big = texture(seed, height + 2 * num_frames, width + 2 * num_frames, cells=10)
    return torch.stack([big[:, t : t + height, 2 * t : 2 * t + width] for t in range(num_frames)])


def write_image_file(path: Path, mode: str = "RGB", seed: int = 0, size: int = 24) -> Path:
    """An image file of a PIL mode (``RGB``, ``L``, ``RGBA``, ``CMYK``, ``P``), format by suffix."""
    rgb = Image.fromarray(texture(seed, size, size).permute(1, 2, 0).numpy())
    image = rgb.quantize(256) if mode == "P" else rgb.convert(mode)
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **({"quality": 95} if path.suffix.lower() in (".jpg", ".jpeg") else {}))
    return path


def write_corrupt_jpeg(path: Path, seed: int = 0) -> Path:
    """A JPEG file cut off after its first 40 % of bytes."""
    write_image_file(path, seed=seed, size=64)
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.4)])
    return path


def write_image_folder(root: Path, counts: dict[str, int], suffix: str = ".jpg") -> Path:
    """``root/<class>/<class>_<i>.jpg`` with ``counts[class]`` textured images each."""
    seed = 0
    for name, count in counts.items():
        for i in range(count):
            write_image_file(root / name / f"{name}_{i:03d}{suffix}", seed=seed)
            seed += 1
    return root


def write_ucf101(
    root: Path, classes: Sequence[str], groups: Sequence[int] = (1, 8), num_frames: int = 6
) -> tuple[Path, Path]:
    """A tiny UCF101 tree: ``UCF-101/<Class>/v_<Class>_gGG_c01.avi`` and ``ucfTrainTestlist/``.

    Split 1 tests on groups 1-7. ``HandstandPushups`` keeps the real quirk: files inside it are
    named ``v_HandStandPushups_...``. Returns ``(videos_root, splits_dir)``.
    """
    videos = root / "UCF-101"
    splits = root / "ucfTrainTestlist"
    splits.mkdir(parents=True, exist_ok=True)
    (splits / "classInd.txt").write_text("".join(f"{i + 1} {c}\n" for i, c in enumerate(classes)))
    train, test = [], []
    for i, name in enumerate(classes):
        file_name = "HandStandPushups" if name == "HandstandPushups" else name
        for g in groups:
            rel = f"{name}/v_{file_name}_g{g:02d}_c01.avi"
            write_index_video(videos / rel, num_frames)
            if 1 <= g <= 7:
                test.append(f"{rel}\n")
            else:
                train.append(f"{rel} {i + 1}\n")
    (splits / "trainlist01.txt").write_text("".join(train))
    (splits / "testlist01.txt").write_text("".join(test))
    return videos, splits


def write_hmdb51(
    root: Path, tags: dict[str, Sequence[int]], num_frames: int = 6
) -> tuple[Path, Path]:
    """A tiny HMDB51 tree: ``hmdb51_org/<class>/<clip>.avi`` and ``<class>_test_split1.txt``.

    ``tags[class]`` lists the split tag (0 unused, 1 train, 2 test) of each clip of that class.
    Returns ``(videos_root, splits_dir)``.
    """
    videos = root / "hmdb51_org"
    splits = root / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True, exist_ok=True)
    for name, clip_tags in tags.items():
        lines = []
        for i, tag in enumerate(clip_tags):
            clip = f"{name}_clip_{i}_u_nm_np1_fr_med_{i}.avi"
            write_index_video(videos / name / clip, num_frames)
            lines.append(f"{clip} {tag} \n")
        (splits / f"{name}_test_split1.txt").write_text("".join(lines))
    return videos, splits


def write_stanford40(
    root: Path, train: Sequence[str], test: Sequence[str], size: tuple[int, int] = (40, 30)
) -> Path:
    """A tiny Stanford40 tree: JPEGImages/, ImageSplits/{train,test}.txt, XMLAnnotations/.

    Each image (``width x height`` = ``size``) is grey 40 except its person box, which is
    white; the box is the image's middle half, written 1-based in the XML as the real files are.
    """
    width, height = size
    box = (width // 4, height // 4, 3 * width // 4, 3 * height // 4)  # 0-based, exclusive end
    for split, names in (("train", train), ("test", test)):
        for name in names:
            array = np.full((height, width, 3), 40, np.uint8)
            array[box[1] : box[3], box[0] : box[2]] = 255
            path = root / "JPEGImages" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(path, quality=95)
            xml = (
                f"<annotation><filename>{name}</filename><object>"
                f"<action>{name.rsplit('_', 1)[0]}</action><bndbox>"
                f"<xmax>{box[2]}</xmax><xmin>{box[0] + 1}</xmin>"
                f"<ymax>{box[3]}</ymax><ymin>{box[1] + 1}</ymin></bndbox>"
                f"<name>person</name></object><size><depth>3</depth>"
                f"<height>{height}</height><width>{width}</width></size></annotation>"
            )
            xml_path = root / "XMLAnnotations" / f"{Path(name).stem}.xml"
            xml_path.parent.mkdir(parents=True, exist_ok=True)
            xml_path.write_text(xml)
        split_path = root / "ImageSplits" / f"{split}.txt"
        split_path.parent.mkdir(parents=True, exist_ok=True)
        split_path.write_text("".join(f"{n}\n" for n in names))
    return root
