"""Data for rvit: the built-in synthetic action world, real image and video sets, augmentation,
clip views and the training loader, and the table of data kinds.

Names are loaded lazily from their submodules, so importing one part does not import the others.
"""

from importlib import import_module
from typing import Any

_EXPORTS = {
    # the synthetic action world
    "SyntheticActions": "rvit.data.synthetic",
    "CLASSES": "rvit.data.synthetic",
    "CLASS_GROUPS": "rvit.data.synthetic",
    "MOTION_PAIRS": "rvit.data.synthetic",
    "render_batch": "rvit.data.synthetic",
    "gallery": "rvit.data.figures",
    "filmstrips": "rvit.data.figures",
    # still images
    "ImageFolderActions": "rvit.data.images",
    "Stanford40": "rvit.data.images",
    # videos
    "probe": "rvit.data.video",
    "read_video": "rvit.data.video",
    "iter_frames": "rvit.data.video",
    "write_video": "rvit.data.video",
    "sample_indices": "rvit.data.video",
    "VideoFolder": "rvit.data.videosets",
    "UCF101": "rvit.data.videosets",
    "HMDB51": "rvit.data.videosets",
    # frames from videos, batches of videos
    "VideoFrames": "rvit.data.frames",
    "extract_frames": "rvit.data.frames",
    "pad_videos": "rvit.data.collate",
    # class names and mappings
    "mappings": "rvit.data.mappings",
    "LabelSpace": "rvit.data.labels",
    "restrict_to_shared": "rvit.data.labels",
    # augmentation
    "make_transform": "rvit.data.augment",
    "eval_transform": "rvit.data.augment",
    "PseudoVideo": "rvit.data.augment",
    "CAMERA_LIMITS": "rvit.data.augment",
    "CAMERA_RANGES": "rvit.data.augment",
    "check_camera": "rvit.data.augment",
    "RANDOM_TRANSFORMS": "rvit.data.augment",
    "find_random_transforms": "rvit.data.augment",
    "check_deterministic": "rvit.data.augment",
    # any data set as clips (T, C, H, W), and the training loader
    "MODALITIES": "rvit.data.clips",
    "StillClips": "rvit.data.clips",
    "StaticClips": "rvit.data.clips",
    "PseudoVideoClips": "rvit.data.clips",
    "FixedLengthClips": "rvit.data.clips",
    "as_training_set": "rvit.data.clips",
    "eval_view": "rvit.data.clips",
    "item_kind": "rvit.data.clips",
    "stack_clips": "rvit.data.clips",
    "uniform_indices": "rvit.data.clips",
    "make_loader": "rvit.data.loader",
    # the table of data kinds (command line and study)
    "DATA_KINDS": "rvit.data.sources",
    "build_dataset": "rvit.data.sources",
    "CueThenBlank": "rvit.data.sources",
    # leakage between training images and test videos
    "audit_leakage": "rvit.data.leakage",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        module = import_module(_EXPORTS[name])
        return module if name == "mappings" else getattr(module, name)
    raise AttributeError(f"module 'rvit.data' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
