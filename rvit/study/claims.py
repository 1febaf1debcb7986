"""The claims the study tests: the proposal's two tables, one :class:`Claim` per cell.

The comparison table has a row per design choice (the paper's design, the proposal's design and the
proposal's statement of its impact); the insights table has a strength and a weakness per aspect.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CLAIMS", "Claim", "claim_ids"]


@dataclass(frozen=True)
class Claim:
    """One cell of the proposal: a row of the comparison table, or an aspect's strength/weakness."""

    id: str
    table: str  # "comparison" | "insights"
    row: str  # the feature (comparison) or the aspect (insights)
    kind: str  # "impact" | "strength" | "weakness"
    text: str  # the proposal's words
    paper: str = ""  # comparison table only: the paper's design
    proposal: str = ""  # comparison table only: the proposal's design


_COMPARISON = [
    (
        "patch_embedding",
        "Patch embedding",
        "Convolution for P x P patches with shared positional encoding.",
        "3D convolution with interpolated positional encoding.",
        "Allows flexibility in spatial dimensions but may not fully align with video-specific "
        "positional encoding.",
    ),
    (
        "attention",
        "Attention mechanism",
        "Linear attention for efficiency and stability.",
        "Combination of Scaled Dot Product and Linear Attention.",
        "Adds complexity but supports versatile attention mechanisms for better spatial feature "
        "learning during image training.",
    ),
    (
        "recurrent_processing",
        "Recurrent processing",
        "Hidden states recurrently transfer temporal features.",
        "Updates hidden states with added recurrent dropout.",
        "Recurrent dropout enhances robustness but may underutilize temporal dependencies when "
        "training on static images.",
    ),
    (
        "memory",
        "Memory efficiency",
        "Frame-by-frame reduces GPU usage significantly.",
        "Sequential processing reduces memory usage compared to batch processing.",
        "Suitable for reduced computational resources in the new approach.",
    ),
    (
        "classifier",
        "Classifier design",
        "Concatenates spatial and temporal tokens for classification.",
        "Uses global average pooling on hidden states before classification.",
        "Simplifies static image training but may miss nuanced spatial-temporal interactions.",
    ),
    (
        "position_encoding",
        "Position encoding",
        "Learnable positional encoding shared across frames.",
        "Learnable encoding with dynamic resizing via trilinear interpolation.",
        "Ensures consistency for image-based training, less tailored for videos.",
    ),
    (
        "video_length",
        "Flexibility to video length",
        "Processes varying video lengths with attention gate interactions.",
        "Sequential frame-by-frame processing without handling variable lengths.",
        "Works for fixed-length predictions but may need tuning for variable-length videos.",
    ),
    (
        "temporal_features",
        "Temporal features",
        "Explicitly modeled through recurrent hidden states.",
        "Inferred during testing via recurrent processing.",
        "Relies on recurrent design to compensate for lack of temporal training, weakening "
        "performance on intricate videos.",
    ),
]

_INSIGHTS = [
    (
        "efficiency",
        "Efficiency",
        "Avoids expensive and time-consuming video training by using image augmentations and "
        "frame extraction.",
        "Sacrifices explicit temporal learning, making predictions less reliable for videos with "
        "complex motion dynamics.",
    ),
    (
        "versatility",
        "Cross-Modality Versatility",
        "Demonstrates RViT's ability to adapt to image-based training and video-based testing.",
        "Generalization from images to videos depends heavily on recurrent feature extraction, "
        "possibly leading to errors.",
    ),
    (
        "scalability",
        "Scalability",
        "Works with datasets of varying sizes and is computationally efficient.",
        "Lack of temporal data in training limits scalability for tasks requiring temporal "
        "reasoning.",
    ),
    (
        "augmentation",
        "Augmentation Benefits",
        "Simulates a larger training dataset with augmentations, enhancing feature diversity.",
        "Over-reliance on augmentations may bias the model and fail to generalize to real-world "
        "video data.",
    ),
    (
        "recurrent",
        "Recurrent Customization",
        "Recurrent dropout improves regularization and reduces overfitting.",
        "Dropout might weaken temporal feature propagation, critical for video-based tasks.",
    ),
]


def _build_claims() -> dict[str, Claim]:
    claims: dict[str, Claim] = {}
    for key, row, paper, proposal, impact in _COMPARISON:
        claims[f"cmp.{key}"] = Claim(
            f"cmp.{key}", "comparison", row, "impact", impact, paper, proposal
        )
    for key, aspect, strength, weakness in _INSIGHTS:
        claims[f"ins.{key}.strength"] = Claim(
            f"ins.{key}.strength", "insights", aspect, "strength", strength
        )
        claims[f"ins.{key}.weakness"] = Claim(
            f"ins.{key}.weakness", "insights", aspect, "weakness", weakness
        )
    return claims


CLAIMS: dict[str, Claim] = _build_claims()
"""The 18 claims: 8 rows of the comparison table (``cmp.*``) and 5 aspects x strength/weakness
(``ins.<aspect>.strength|weakness``), in the proposal's order."""


def claim_ids(table: str | None = None) -> list[str]:
    """The claim ids in the proposal's order, optionally of one table (comparison/insights)."""
    if table not in (None, "comparison", "insights"):
        raise ValueError(f"table must be 'comparison', 'insights' or None, got {table!r}")
    return [c.id for c in CLAIMS.values() if table is None or c.table == table]
