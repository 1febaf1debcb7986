"""The built-in synthetic action world: stick figures performing actions, as stills and as clips.

Real action data sets cannot be downloaded by the book, and a CPU cannot train on them in minutes. This
world is small, fast and built so that the proposal's claims can be tested:

* **Appearance classes** (applauding, waving, jumping jacks, squatting, punching, kicking): one frame
  identifies the action.
* **Motion pairs** (sit down / stand up, raise arms / lower arms, walk left / walk right): the two classes
  of a pair share one pose trajectory ``p(u)``, ``u`` in [0, 1]; one class plays a stretch of it forward,
  the other plays the *same frames in reverse order*. Start, span, time offset and every nuisance are drawn
  independently of the class, so a single frame of either class has exactly the same distribution: only
  the order of the frames tells the two apart. The figures are drawn front-on (the walker scissors its
  straight legs symmetrically), so no facing cue gives the direction away.
* **Nuisances** scale with ``difficulty`` in [0, 1] (0: clean and centred): figure scale, position,
  colour and limb thickness, pose variation, backgrounds (plain, gradient, clutter shapes), camera
  jitter, action speed, pixel noise and occluders. The phase of an action is always random.
* **Domain gap**: with ``domain_gap`` in [0, 1], clips look like video (motion blur from sub-frames,
  defocus, sensor noise, lower contrast, compression blocks) while stills stay sharp and clean, the way
  Stanford 40 photos differ from UCF101 clips. At 0 the two modalities render identically.

Every sample is a pure function of (split seed, index): its random numbers come from a counter-based hash
of the split's key, the index, a stream name and (for per-frame values) the frame number, so sample ``i``
is the same whatever ``num_samples`` is and whichever order samples are drawn in. The still of sample ``i``
is frame ``k*`` (a random frame) of the clip of sample ``i``: stills are drawn at a random time of an
action, and with ``domain_gap=0`` they are *exactly* that frame of the video. Splits use different keys
(from the split name and the dataset seed), so they never share a sample.

Rendering is vectorised over all frames of a chunk of samples (:func:`render_batch`), and the dataset
caches its samples as uint8 the first time a chunk is touched, so ``__getitem__`` is cheap afterwards.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import Dataset

from rvit.data.render import (
    Boxes,
    FrameParams,
    Strokes,
    noise_offsets,
    render_batch,
    video_look,
)

__all__ = [
    "APPEARANCE_CLASSES",
    "CLASSES",
    "CLASS_GROUPS",
    "MOTION_PAIRS",
    "SPLITS",
    "SyntheticActions",
    "render_batch",
]

# --------------------------------------------------------------------------------------------------
# The classes
# --------------------------------------------------------------------------------------------------

APPEARANCE_CLASSES: list[str] = [
    "applauding",
    "waving",
    "jumping_jacks",
    "squatting",
    "punching",
    "kicking",
]
MOTION_PAIRS: list[tuple[str, str]] = [
    ("sit_down", "stand_up"),
    ("raise_arms", "lower_arms"),
    ("walk_left", "walk_right"),
]
CLASSES: list[str] = [*APPEARANCE_CLASSES, *(name for pair in MOTION_PAIRS for name in pair)]
CLASS_GROUPS: dict[str, str] = {
    name: "appearance" if name in APPEARANCE_CLASSES else "motion" for name in CLASSES
}
SPLITS = ("train", "val", "test")
MODALITIES = ("image", "video")

# Which pose each class performs, and whether it plays the pose trajectory backward. A trajectory's
# forward direction: sit (standing -> seated), arms (down -> up), walk (left -> right).
_ACTIONS: dict[str, tuple[str, bool]] = {
    "applauding": ("applauding", False),
    "waving": ("waving", False),
    "jumping_jacks": ("jumping_jacks", False),
    "squatting": ("squatting", False),
    "punching": ("punching", False),
    "kicking": ("kicking", False),
    "sit_down": ("sit", False),
    "stand_up": ("sit", True),
    "raise_arms": ("arms", False),
    "lower_arms": ("arms", True),
    "walk_left": ("walk", True),
    "walk_right": ("walk", False),
}

# --------------------------------------------------------------------------------------------------
# The skeleton and its poses
# --------------------------------------------------------------------------------------------------

# Body proportions in figure units (standing height about 1), y up, ground at y = 0.
TORSO, SHOULDER, HEAD_RADIUS, NECK = 0.30, 0.26, 0.085, 0.012
UPPER_ARM, FOREARM, THIGH, SHIN = 0.17, 0.16, 0.245, 0.245
LIMB_WIDTH = 0.035  # half thickness of a limb, in figure heights, before the thickness nuisance

# A pose is 11 numbers per frame. Angles are in degrees, measured from straight down, positive towards
# +x (image right); limb 0 is the one on the image's left, limb 1 on its right.
_POSE_FIELDS = (
    "hip_x",
    "lift",
    "lean",
    "arm0_upper",
    "arm0_fore",
    "arm1_upper",
    "arm1_fore",
    "leg0_thigh",
    "leg0_shin",
    "leg1_thigh",
    "leg1_shin",
)
# Each pose field is a linear combination of these per-frame features (see _basis):
# w = (1 - cos phase) / 2 and sin = sin phase of a periodic action; u, smooth = smoothstep(u),
# bump = sin(pi u) of a trajectory; gait = sin of the walking phase.
_BASIS = ("one", "w", "sin", "u", "smooth", "bump", "gait")
_ANGLES = slice(2, 11)  # lean and the eight limb angles


def _sym(limb: str, **coefs: float) -> dict[str, dict[str, float]]:
    """A symmetric pair of limbs: ``coefs`` give the right limb's angle; the left one is mirrored."""
    return {
        f"{limb[:3]}1{limb[3:]}": coefs,
        f"{limb[:3]}0{limb[3:]}": {k: -v for k, v in coefs.items()},
    }


@dataclass(frozen=True)
class _Pose:
    """One pose family: coefficients of each pose field on the basis, plus how to place it."""

    coefs: dict[str, dict[str, float]]
    anchored: bool = False  # keep the feet of leg 0 at x = 0 (hip_x then moves instead)
    mirror: bool = (
        True  # may be drawn mirrored (left-right); never for walking, which would flip it
    )
    chair: bool = False


def _legs(**coefs: float) -> dict[str, dict[str, float]]:
    return {**_sym("leg_thigh", **coefs), **_sym("leg_shin", **coefs)}


_POSES: dict[str, _Pose] = {
    # hands together in front of the chest, elbows out; the hands open and close a little
    "applauding": _Pose(
        {
            **_sym("arm_upper", one=62, w=8),
            **_sym("arm_fore", one=-78, w=20),
            **_legs(one=6),
        }
    ),
    # one arm high, forearm swinging around vertical; the other arm down
    "waving": _Pose(
        {
            "arm1_upper": {"one": 140},
            "arm1_fore": {"one": 172, "sin": 26},
            "arm0_upper": {"one": -12},
            "arm0_fore": {"one": -6},
            **_legs(one=6),
        }
    ),
    # arms high and legs spread, opening wider and lifting off the ground in rhythm
    "jumping_jacks": _Pose(
        {
            **_sym("arm_upper", one=100, w=60),
            **_sym("arm_fore", one=112, w=58),
            **_legs(one=20, w=14),
            "lift": {"w": 0.05},
        }
    ),
    # knees bent outward, hips low, hands reaching to the knees; going deeper and back up
    "squatting": _Pose(
        {
            **_sym("arm_upper", one=28, w=10),
            **_sym("arm_fore", one=12, w=12),
            **_sym("leg_thigh", one=52, w=28),
            **_sym("leg_shin", one=-8, w=-6),
        }
    ),
    # one arm straight out at shoulder height, the other guarding the chin
    "punching": _Pose(
        {
            "arm1_upper": {"one": 90},
            "arm1_fore": {"one": 90, "w": 40},
            "arm0_upper": {"one": -25},
            "arm0_fore": {"one": 150},
            **_legs(one=14),
            "lean": {"one": 5},
        }
    ),
    # one leg raised out to the side, arms out for balance
    "kicking": _Pose(
        {
            "leg1_thigh": {"one": 65, "w": 25},
            "leg1_shin": {"one": 75, "w": 25},
            "leg0_thigh": {"one": -3},
            "leg0_shin": {"one": -3},
            **_sym("arm_upper", one=50),
            **_sym("arm_fore", one=70),
            "lean": {"one": -8},
        }
    ),
    # side view, facing +x: from standing in front of a chair (u = 0) to seated on it (u = 1)
    "sit": _Pose(
        {
            "hip_x": {"one": 0.13},
            "leg0_thigh": {"smooth": 88},
            "leg0_shin": {"bump": -22},
            "leg1_thigh": {"one": 4, "smooth": 82},
            "leg1_shin": {"one": 2, "bump": -20},
            "lean": {"bump": 32, "u": -4},
            "arm0_upper": {"one": 8, "bump": 30},
            "arm0_fore": {"one": 20, "bump": 40},
            "arm1_upper": {"one": 14, "bump": 30},
            "arm1_fore": {"one": 26, "bump": 40},
        },
        anchored=True,
        chair=True,
    ),
    # both arms from hanging down (u = 0) to straight up (u = 1), out to the sides
    "arms": _Pose(
        {
            **_sym("arm_upper", one=6, u=166),
            **_sym("arm_fore", one=6, u=166, bump=15),
            **_legs(one=4),
        }
    ),
    # walking from left (u = 0) to right (u = 1); straight legs scissor symmetrically
    "walk": _Pose(
        {
            "hip_x": {"one": -0.35, "u": 0.7},
            "leg0_thigh": {"gait": 24},
            "leg0_shin": {"gait": 24},
            "leg1_thigh": {"gait": -24},
            "leg1_shin": {"gait": -24},
            "arm0_upper": {"gait": -18},
            "arm0_fore": {"gait": -24},
            "arm1_upper": {"gait": 18},
            "arm1_fore": {"gait": 24},
        },
        mirror=False,
    ),
}
_POSE_NAMES = list(_POSES)
GAIT_CYCLES = 2.5  # walking steps per full trajectory

# The chair of the sit pose, as segments in figure units for a figure facing +x (feet at x = 0).
_CHAIR = torch.tensor(
    [
        [[-0.33, 0.21], [-0.07, 0.21]],  # seat
        [[-0.33, 0.21], [-0.33, 0.56]],  # back
        [[-0.33, 0.21], [-0.33, 0.0]],  # back leg
        [[-0.08, 0.21], [-0.08, 0.0]],  # front leg
    ]
)


def _pose_table() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """(P, 11, 7) coefficients and (P,) flags anchored, mirror, chair for every pose family."""
    table = torch.zeros(len(_POSES), len(_POSE_FIELDS), len(_BASIS))
    for p, pose in enumerate(_POSES.values()):
        for field, coefs in pose.coefs.items():
            for basis, value in coefs.items():
                table[p, _POSE_FIELDS.index(field), _BASIS.index(basis)] = value
    flags = [
        torch.tensor([getattr(pose, name) for pose in _POSES.values()])
        for name in ("anchored", "mirror", "chair")
    ]
    return table, *flags


_TABLE, _ANCHORED, _MIRRORABLE, _HAS_CHAIR = _pose_table()
_POSE_OF_CLASS = torch.tensor([_POSE_NAMES.index(_ACTIONS[c][0]) for c in CLASSES])
_REVERSE_OF_CLASS = torch.tensor([_ACTIONS[c][1] for c in CLASSES])
_PERIODIC = torch.tensor([CLASS_GROUPS[c] == "appearance" for c in CLASSES])


def _direction(degrees: Tensor) -> tuple[Tensor, Tensor]:
    """Unit vector of a limb angle (0 = down, positive towards +x) in y-up coordinates."""
    rad = torch.deg2rad(degrees)
    return torch.sin(rad), -torch.cos(rad)


def _skeleton(pose: Tensor, anchored: Tensor) -> tuple[Tensor, Tensor]:
    """Forward kinematics: pose (F, 11) -> limb segments (F, 9, 2, 2) and head centre (F, 2).

    Figure units, y up. The hip height puts the lower foot on the ground (plus ``lift``). For anchored
    poses (``anchored`` (F,) is 1) ``hip_x`` is where the foot of leg 0 stays, and the hip moves.
    """
    fields = dict(zip(_POSE_FIELDS, pose.unbind(-1), strict=True))
    legs = []
    for side in ("0", "1"):
        tx, ty = _direction(fields[f"leg{side}_thigh"])
        sx, sy = _direction(fields[f"leg{side}_shin"])
        legs.append((tx, ty, sx, sy))
    drop = torch.stack([-(THIGH * ty + SHIN * sy) for _, ty, _, sy in legs]).amax(0)  # (F,)
    tx0, _, sx0, _ = legs[0]
    hip_x = fields["hip_x"] - anchored * (THIGH * tx0 + SHIN * sx0)
    hip = torch.stack([hip_x, drop + fields["lift"]], -1)  # (F, 2)
    lean = torch.deg2rad(fields["lean"])
    up = torch.stack([torch.sin(lean), torch.cos(lean)], -1)  # torso direction (F, 2)
    neck = hip + TORSO * up
    shoulder = hip + SHOULDER * up
    head = hip + (TORSO + NECK + HEAD_RADIUS) * up
    segments = [torch.stack([hip, neck], 1)]
    for side in ("0", "1"):
        elbow = shoulder + UPPER_ARM * torch.stack(_direction(fields[f"arm{side}_upper"]), -1)
        hand = elbow + FOREARM * torch.stack(_direction(fields[f"arm{side}_fore"]), -1)
        segments += [torch.stack([shoulder, elbow], 1), torch.stack([elbow, hand], 1)]
    for tx, ty, sx, sy in legs:
        knee = hip + THIGH * torch.stack([tx, ty], -1)
        foot = knee + SHIN * torch.stack([sx, sy], -1)
        segments += [torch.stack([hip, knee], 1), torch.stack([knee, foot], 1)]
    return torch.stack(segments, 1), head  # (F, 9, 2, 2), (F, 2)


# --------------------------------------------------------------------------------------------------
# Counter-based random numbers: a pure function of (key, index, stream, frame)
# --------------------------------------------------------------------------------------------------

_MASK = 0xFFFFFFFF


def _mix(x: Any) -> Any:
    """A 32-bit integer hash (bijective on [0, 2**32)); works on Python ints and int64 tensors."""
    x = x ^ (x >> 16)
    x = (x * 0x7FEB352D) & _MASK
    x = x ^ (x >> 15)
    x = (x * 0x846CA68B) & _MASK
    return x ^ (x >> 16)


def split_key(split: str, seed: int) -> int:
    """The 32-bit key of a split: a hash of the split's name and the dataset seed."""
    return _mix(_mix(zlib.crc32(split.encode()) ^ _mix(seed & _MASK)) ^ (seed >> 32) & _MASK)


@lru_cache(maxsize=8192)
def _stream_base(key: int, stream: str) -> int:
    return _mix(key ^ _mix(zlib.crc32(stream.encode())))


class _Random:
    """Uniform numbers in [0, 1) for a batch of samples, one independent stream per name.

    ``prefetch`` names scalar streams and vector streams (name -> length) to draw all at once: one
    hashed (n, streams) tensor instead of a dozen small operations per stream.
    """

    def __init__(
        self,
        key: int,
        index: Tensor,
        scalars: Sequence[str] = (),
        vectors: dict[str, int] | None = None,
    ) -> None:
        self.key = key
        self.index = index  # (n,) int64, non-negative
        self._drawn: dict[str, Tensor] = {}
        vectors = vectors or {}
        names = [*scalars, *(f"{v}.{i}" for v, count in vectors.items() for i in range(count))]
        if names:
            bases = torch.tensor([_stream_base(key, name) for name in names])
            table = self._to_unit(_mix(index[:, None] ^ bases))  # (n, streams)
            self._drawn = dict(zip(scalars, table.unbind(1), strict=False))
            column = len(scalars)
            for name, count in vectors.items():
                self._drawn[name] = table[:, column : column + count]
                column += count

    @staticmethod
    def _to_unit(bits: Tensor) -> Tensor:
        return (bits >> 8).to(torch.float32) * (1.0 / (1 << 24))

    def _bits(self, stream: str, frame: Tensor | None) -> Tensor:
        x = _mix(self.index ^ _stream_base(self.key, stream))
        if frame is not None:
            x = _mix(x ^ _mix((frame * 0x9E3779B9 + 0x632BE5AB) & _MASK))
        return x

    def uniform(self, stream: str, frame: Tensor | None = None) -> Tensor:
        """(n,) float32 uniform in [0, 1); with ``frame`` (n,) one number per (sample, frame)."""
        if frame is None and stream in self._drawn:
            return self._drawn[stream]
        return self._to_unit(self._bits(stream, frame))

    def uniforms(self, stream: str, count: int) -> Tensor:
        """(n, count) independent uniforms."""
        if stream in self._drawn:
            return self._drawn[stream]
        return torch.stack([self.uniform(f"{stream}.{i}") for i in range(count)], -1)

    def integers(self, stream: str, high: int, frame: Tensor | None = None) -> Tensor:
        """(n,) int64 in [0, high)."""
        return self._bits(stream, frame) % high


# --------------------------------------------------------------------------------------------------
# Sampling the nuisances of a batch of samples
# --------------------------------------------------------------------------------------------------

_FIGURE_DEFAULT = torch.tensor([0.13, 0.16, 0.36])
_BACKGROUND_DEFAULT = torch.tensor([0.93, 0.92, 0.88])
_CHAIR_DEFAULT = torch.tensor([0.55, 0.36, 0.2])
_CLUTTER = 4  # clutter shapes per frame when the background has clutter
_BACKGROUND_KINDS = ("plain", "gradient", "clutter")
SUB_FRAMES = 3  # sub-frames averaged into one video frame for motion blur (when domain_gap > 0)


# the random streams every sample draws (names of scalars; names and lengths of vectors)
_SAMPLE_SCALARS = (
    "mirror",
    "still",
    "offset",
    "span",
    "start",
    "cycles",
    "phase",
    "gait",
    "scale",
    "x",
    "y",
    "thickness",
    "polarity",
    "background_kind",
    "gradient_angle",
    "gradient_steepness",
    "occluder",
    "noise",
)
_SAMPLE_VECTORS = {
    "pose": 9,
    "figure_rgb": 3,
    "background_rgb": 3,
    "gradient_rgb": 3,
    "chair_rgb": 3,
    "clutter_start": 2 * _CLUTTER,
    "clutter_angle": _CLUTTER,
    "clutter_blob": _CLUTTER,
    "clutter_length": _CLUTTER,
    "clutter_radius": _CLUTTER,
    "clutter_width": _CLUTTER,
    "clutter_rgb": 3 * _CLUTTER,
    "clutter_visible": _CLUTTER,
    "occluder_box": 4,
    "occluder_rgb": 3,
}


def _lerp(start: Tensor, end: Tensor, weight: float | Tensor) -> Tensor:
    return start + (end - start) * weight


class _Sampler:
    """Draws every per-sample and per-frame number of the world for one split and one setting."""

    def __init__(
        self,
        key: int,
        image_size: int,
        frames: int | tuple[int, int],
        difficulty: float,
        domain_gap: float,
        class_ids: Tensor,
    ) -> None:
        self.key = key
        self.size = image_size
        self.frames = frames
        self.difficulty = difficulty
        self.domain_gap = domain_gap
        self.class_ids = class_ids  # dataset label -> index into CLASSES

    def lengths(self, index: Tensor) -> Tensor:
        """(n,) number of frames of each sample's clip."""
        if isinstance(self.frames, int):
            return torch.full_like(index, self.frames)
        low, high = self.frames
        draw = _Random(self.key, index).uniform("length")
        return (low + (draw * (high - low + 1)).long()).clamp(max=high)

    def samples(self, index: Tensor, label: Tensor) -> dict[str, Tensor]:
        """All per-sample quantities of samples ``index`` (n,) with dataset labels ``label`` (n,)."""
        d, size = self.difficulty, float(self.size)
        rnd = _Random(self.key, index, _SAMPLE_SCALARS, _SAMPLE_VECTORS)
        n = index.shape[0]
        cls = self.class_ids[label]
        pose = _POSE_OF_CLASS[cls]
        length = self.lengths(index)
        s: dict[str, Tensor] = {"cls": cls, "pose": pose, "length": length}
        s["reverse"] = _REVERSE_OF_CLASS[cls]
        s["periodic"] = _PERIODIC[cls]
        s["mirror"] = (rnd.uniform("mirror") < 0.5) & _MIRRORABLE[pose]
        s["still"] = (rnd.uniform("still") * length).long().clamp(max=length - 1)
        s["offset"] = rnd.uniform("offset")  # sub-frame time offset of frame 0
        # speed and phase: the stretch of trajectory a clip covers, the cycles of a periodic action
        s["span"] = 0.78 + 0.18 * d * (2 * rnd.uniform("span") - 1)
        s["start"] = rnd.uniform("start") * (1 - s["span"])
        s["cycles"] = 1.0 + 0.45 * d * (2 * rnd.uniform("cycles") - 1)
        s["phase"] = 2 * math.pi * rnd.uniform("phase")
        s["gait"] = 2 * math.pi * rnd.uniform("gait")
        jitter = (4.0 + 8.0 * d) * (2 * rnd.uniforms("pose", 9) - 1)  # degrees
        s["pose_noise"] = torch.cat([torch.zeros(n, 2), jitter], -1)  # (n, 11)
        # figure scale, position and limb thickness, in pixels
        height = size * (0.8 - 0.28 * d * rnd.uniform("scale"))
        s["height"] = height
        s["cx"] = size / 2 + 0.14 * d * size * (2 * rnd.uniform("x") - 1)
        s["ground"] = size / 2 + height / 2 + 0.07 * d * size * (2 * rnd.uniform("y") - 1)
        thickness = 1 + 0.45 * d * (2 * rnd.uniform("thickness") - 1)
        s["radius"] = (LIMB_WIDTH * height * thickness).clamp(min=0.55)
        # colours: a dark figure on a light background at difficulty 0, random with difficulty
        figure = _lerp(_FIGURE_DEFAULT, 0.5 * rnd.uniforms("figure_rgb", 3), d)
        background = _lerp(_BACKGROUND_DEFAULT, 0.5 + 0.5 * rnd.uniforms("background_rgb", 3), d)
        swap = (rnd.uniform("polarity") < 0.3 * d)[:, None]
        s["figure_color"] = torch.where(swap, background, figure)
        start_color = torch.where(swap, figure, background)
        kind = rnd.uniform("background_kind")  # a third each of plain, gradient, clutter at d = 1
        kind = torch.where(kind < d / 3, 1, torch.where(kind < 2 * d / 3, 2, 0))
        s["background_kind"] = kind  # index into _BACKGROUND_KINDS
        other = 0.35 + 0.65 * rnd.uniforms("gradient_rgb", 3)
        end_color = torch.where((s["background_kind"] > 0)[:, None], other, start_color)
        s["background"] = torch.stack([start_color, end_color], 1)  # (n, 2, 3)
        angle = 2 * math.pi * rnd.uniform("gradient_angle")
        steep = (0.6 + 0.9 * rnd.uniform("gradient_steepness")) / size
        a, b = steep * torch.cos(angle), steep * torch.sin(angle)
        s["gradient"] = torch.stack([a, b, 0.5 - (a + b) * size / 2], -1)  # (n, 3)
        s["chair_color"] = _lerp(_CHAIR_DEFAULT, 0.15 + 0.6 * rnd.uniforms("chair_rgb", 3), d)
        # clutter: a few strokes and blobs behind the figure
        start = size * rnd.uniforms("clutter_start", 2 * _CLUTTER).view(n, _CLUTTER, 2)
        turn = 2 * math.pi * rnd.uniforms("clutter_angle", _CLUTTER)
        blob = rnd.uniforms("clutter_blob", _CLUTTER) < 0.35
        reach = torch.where(blob, 0.0, 0.45 * size * rnd.uniforms("clutter_length", _CLUTTER))
        end = start + reach[..., None] * torch.stack([torch.cos(turn), torch.sin(turn)], -1)
        s["clutter"] = torch.stack([start, end], 2)  # (n, K, 2, 2)
        width = torch.where(blob, 1.5 + 3.0 * rnd.uniforms("clutter_radius", _CLUTTER), 0.5)
        s["clutter_radius"] = width * size / 32 + (size / 32) * rnd.uniforms(
            "clutter_width", _CLUTTER
        )
        clutter_rgb = rnd.uniforms("clutter_rgb", 3 * _CLUTTER).view(n, _CLUTTER, 3)
        s["clutter_color"] = _lerp(start_color[:, None], clutter_rgb, 0.6)
        s["clutter_visible"] = (s["background_kind"] == 2)[:, None] & (
            rnd.uniforms("clutter_visible", _CLUTTER) < 0.85
        )
        # an occluder in front of the figure
        box = rnd.uniforms("occluder_box", 4)
        w, h = size * (0.12 + 0.2 * box[:, 0]), size * (0.12 + 0.2 * box[:, 1])
        ox = s["cx"] + 0.3 * size * (2 * box[:, 2] - 1)
        oy = s["ground"] - height / 2 + 0.35 * height * (2 * box[:, 3] - 1)
        s["occluder"] = torch.stack([ox - w / 2, oy - h / 2, ox + w / 2, oy + h / 2], -1)
        s["occluder_color"] = rnd.uniforms("occluder_rgb", 3)
        s["occluder_visible"] = rnd.uniform("occluder") < 0.45 * d
        s["noise_std"] = 0.06 * d * rnd.uniform("noise")
        return s

    def frame_params(
        self,
        index: Tensor,
        table: dict[str, Tensor],
        position: Tensor,
        sub: Tensor | None = None,
    ) -> FrameParams:
        """The drawing of frames: sample ``index`` (F,) at frame ``position`` (F,) of its clip.

        ``table`` holds the per-sample values already gathered per frame (each (F, ...)). ``sub`` (F,)
        shifts the time of a frame by a fraction of a frame interval (for motion blur sub-frames).
        """
        d, size = self.difficulty, float(self.size)
        rnd = _Random(self.key, index)
        length = table["length"].float()
        # which instant of the trajectory this frame shows: backward classes show the same frames
        # as the forward class, in reverse order
        shown = torch.where(table["reverse"], table["length"] - 1 - position, position).float()
        time = (shown + table["offset"]) / length  # in [0, 1)
        if sub is not None:
            time = time + sub / length
        u = (table["start"] + table["span"] * time).clamp(0.0, 1.0)
        phase = table["phase"] + 2 * math.pi * table["cycles"] * time
        periodic = table["periodic"]
        zero = torch.zeros_like(u)
        basis = torch.stack(
            [
                torch.ones_like(u),
                torch.where(periodic, 0.5 * (1 - torch.cos(phase)), zero),
                torch.where(periodic, torch.sin(phase), zero),
                torch.where(periodic, zero, u),
                torch.where(periodic, zero, u * u * (3 - 2 * u)),
                torch.where(periodic, zero, torch.sin(math.pi * u)),
                torch.where(
                    periodic, zero, torch.sin(table["gait"] + 2 * math.pi * GAIT_CYCLES * u)
                ),
            ],
            -1,
        )  # (F, 7)
        pose = torch.einsum("fob,fb->fo", _TABLE[table["pose"]], basis) + table["pose_noise"]
        limbs, head = _skeleton(pose, _ANCHORED[table["pose"]].float())
        chair = _CHAIR.expand(len(index), -1, -1, -1).clone()  # (F, 4, 2, 2)
        chair[..., 0] += _TABLE[table["pose"], 0, 0][:, None, None]  # the sit pose's centring
        # a mirrored sample is drawn left-right flipped (x -> -x in figure units)
        mirror = table["mirror"]
        sign = torch.where(mirror, -1.0, 1.0)
        limbs[..., 0] *= sign[:, None, None]
        head[..., 0] *= sign
        chair[..., 0] *= sign[:, None, None]
        # place the figure: figure units (y up) -> pixels (y down), plus camera jitter per frame
        shake = torch.stack([rnd.uniform("jx", position), rnd.uniform("jy", position)], -1)
        jitter = 0.035 * d * size * (2 * shake - 1)  # (F, 2)
        origin = torch.stack([table["cx"], table["ground"]], -1) + jitter  # (F, 2)
        scale = table["height"]
        flip = torch.tensor([1.0, -1.0])

        def to_pixels(points: Tensor) -> Tensor:  # (F, ..., 2) figure units -> pixels
            shape = (-1,) + (1,) * (points.dim() - 2) + (2,)
            return origin.view(shape) + scale.view(shape[:-1] + (1,)) * points * flip

        radius = table["radius"]
        figure = torch.cat(
            [to_pixels(limbs), to_pixels(head)[:, None, None].expand(-1, 1, 2, 2)], 1
        )  # (F, 10, 2, 2): nine limbs and the head as a disc
        figure_radius = torch.cat(
            [radius[:, None].expand(-1, 9), (HEAD_RADIUS * scale + 0.3 * radius)[:, None]], 1
        )
        shapes: list[Strokes | Boxes] = []
        shift = jitter[:, None, None, :]
        clutter_visible = table["clutter_visible"]  # (F, K)
        shapes.append(
            Strokes(
                segments=table["clutter"] + shift,
                radius=torch.where(clutter_visible, table["clutter_radius"], -1.0),
                color=table["clutter_color"],  # (F, K, 3): each stroke its own colour
                visible=clutter_visible.any(-1),
            )
        )
        shapes.append(
            Strokes(
                segments=to_pixels(chair),
                radius=0.8 * radius[:, None].expand(-1, 4),
                color=table["chair_color"],
                visible=_HAS_CHAIR[table["pose"]],
            )
        )
        shapes.append(
            Strokes(figure, figure_radius, table["figure_color"], torch.ones_like(mirror))
        )
        shapes.append(
            Boxes(
                rect=table["occluder"] + jitter.repeat(1, 2),
                color=table["occluder_color"],
                visible=table["occluder_visible"],
            )
        )
        a, b, c = table["gradient"].unbind(-1)
        gradient = torch.stack([a, b, c - a * jitter[:, 0] - b * jitter[:, 1]], -1)
        noise_index = rnd.integers("noise", noise_offsets(self.size), position)
        return FrameParams(
            image_size=self.size,
            background=table["background"],
            gradient=gradient,
            shapes=shapes,
            noise_std=table["noise_std"],
            noise_index=noise_index,
        )

    def sensor_noise_index(self, index: Tensor, position: Tensor) -> Tensor:
        """(F,) noise-bank offsets of the video sensor noise of frames (index, position)."""
        return _Random(self.key, index).integers("sensor", noise_offsets(self.size), position)

    def render(self, index: Tensor, label: Tensor, video: bool) -> tuple[Tensor, Tensor]:
        """Render samples: (n,) indices and labels -> (frames (F, 3, H, W) uint8, lengths (n,)).

        Videos give every frame of each clip (F = sum of lengths); stills give frame ``k*`` of each
        clip (F = n). Frames are returned sample after sample.
        """
        table = self.samples(index, label)
        if video:
            counts = table["length"]
            owner = torch.repeat_interleave(torch.arange(len(index)), counts)  # (F,)
            starts = torch.cumsum(counts, 0) - counts
            position = torch.arange(len(owner)) - starts[owner]
        else:
            counts = torch.ones_like(index)
            owner = torch.arange(len(index))
            position = table["still"]
        per_frame = {k: v[owner] for k, v in table.items()}
        frame_index = index[owner]
        if not (video and self.domain_gap > 0):  # stills, and videos without a domain gap
            params = self.frame_params(frame_index, per_frame, position)
            return render_batch(params, dtype=torch.uint8), counts
        # video look: motion blur from sub-frames spread over part of the frame interval, then the
        # per-frame degradations
        spread = 0.35 * self.domain_gap
        sub = torch.linspace(-spread, spread, SUB_FRAMES).repeat(len(owner))
        expand = torch.arange(len(owner)).repeat_interleave(SUB_FRAMES)
        per_frame = {k: v[expand] for k, v in per_frame.items()}
        params = self.frame_params(frame_index[expand], per_frame, position[expand], sub)
        images = render_batch(params).view(len(owner), SUB_FRAMES, 3, self.size, self.size).mean(1)
        noise = self.sensor_noise_index(frame_index, position)
        images = video_look(images, self.domain_gap, noise)
        return images.mul_(255).round_().to(torch.uint8), counts


# --------------------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------------------

_CHUNK_FRAMES = 1024  # frames rendered together when the cache is filled


def _check_unit(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1], got {value!r}")
    return float(value)


def _check_int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_frames(frames: Any) -> int | tuple[int, int]:
    if isinstance(frames, Sequence) and not isinstance(frames, str):
        if len(frames) != 2:
            raise ValueError(f"frames must be an int or a (min, max) pair, got {frames!r}")
        low = _check_int("frames (min)", frames[0], 1)
        high = _check_int("frames (max)", frames[1], 1)
        if high < low:
            raise ValueError(f"frames must be (min, max) with min <= max, got {tuple(frames)!r}")
        return (low, high) if low < high else low
    return _check_int("frames", frames, 1)


class SyntheticActions(Dataset):
    """Stick-figure actions as stills or clips; a torch dataset of ``(tensor, label)``.

    Args:
        split: "train", "val" or "test"; each split has its own random key, so splits never share a
            sample.
        modality: "image" (stills (C, H, W)) or "video" (clips (T, C, H, W)); float32 in [0, 1].
        num_samples: number of samples; sample ``i`` has label ``i % num_classes`` (balanced).
        frames: clip length T, or a ``(min, max)`` pair to draw T per sample (deterministically). For
            stills it is the length of the clip the still is taken from.
        image_size: height and width in pixels (>= 16).
        seed: dataset seed; with the split name it gives the split's key.
        domain_gap: 0 (videos render exactly like stills) to 1 (strong video degradations). Only
            ``modality="video"`` is degraded.
        difficulty: 0 (clean and centred) to 1 (hard nuisances).
        classes: optional subset of :data:`CLASSES`; labels are renumbered 0..k-1 in the given order.
        transform: optional callable applied to each sample's tensor (a clip goes through one call).
        cache: keep rendered samples (uint8) so later reads are cheap.

    Attributes:
        classes, groups, class_groups, modality, frames, image_size, targets, lengths, transform.
    """

    def __init__(
        self,
        split: str = "train",
        modality: str = "image",
        num_samples: int = 1200,
        frames: int | tuple[int, int] = 8,
        image_size: int = 32,
        seed: int = 0,
        domain_gap: float = 0.0,
        difficulty: float = 0.5,
        classes: Sequence[str] | None = None,
        transform: Callable[[Tensor], Any] | None = None,
        cache: bool = True,
    ) -> None:
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
        self.num_samples = _check_int("num_samples", num_samples, 1)
        self.frames = _check_frames(frames)
        self.image_size = _check_int("image_size", image_size, 16)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.domain_gap = _check_unit("domain_gap", domain_gap)
        self.difficulty = _check_unit("difficulty", difficulty)
        if classes is None:
            classes = list(CLASSES)
        elif isinstance(classes, str) or not isinstance(classes, Sequence):
            raise ValueError(f"classes must be a list of class names, got {classes!r}")
        unknown = [c for c in classes if c not in CLASS_GROUPS]
        if unknown:
            raise ValueError(f"classes: unknown class name(s) {unknown}; known: {CLASSES}")
        if not classes or len(set(classes)) != len(classes):
            raise ValueError(
                f"classes must be a non-empty list without repeats, got {list(classes)}"
            )
        if transform is not None and not callable(transform):
            raise ValueError(f"transform must be callable or None, got {transform!r}")
        self.split, self.modality, self.seed = split, modality, seed
        self.classes = list(classes)
        self.groups = [CLASS_GROUPS[c] for c in self.classes]
        self.class_groups = {c: CLASS_GROUPS[c] for c in self.classes}
        self.transform = transform
        self.cache = cache
        self.key = split_key(split, seed)
        class_ids = torch.tensor([CLASSES.index(c) for c in self.classes])
        self._sampler = _Sampler(
            self.key, self.image_size, self.frames, self.difficulty, self.domain_gap, class_ids
        )
        index = torch.arange(self.num_samples)
        self._labels = index % len(self.classes)
        self.targets: list[int] = self._labels.tolist()
        clip_lengths = self._sampler.lengths(index)
        video = modality == "video"
        self.lengths: list[int] = clip_lengths.tolist() if video else [1] * self.num_samples
        counts = clip_lengths if video else torch.ones_like(index)
        self._offsets = torch.cumsum(counts, 0) - counts  # first cached frame of each sample
        per_sample = max(1, _CHUNK_FRAMES // int(counts.float().mean().ceil()))
        self._chunk = per_sample
        self._ready = torch.zeros(
            (self.num_samples + per_sample - 1) // per_sample, dtype=torch.bool
        )
        self._store: Tensor | None = None
        self._total_frames = int(counts.sum())

    # -- reading -------------------------------------------------------------------------------
    def __len__(self) -> int:
        return self.num_samples

    @property
    def sample_kind(self) -> str:
        """``"image"`` for stills, ``"video"`` for clips (what :func:`rvit.data.clips.item_kind`
        reads instead of an item)."""
        return "image" if self.modality == "image" else "video"

    @property
    def random_items(self) -> bool:
        """Whether reading an item draws random numbers: only through ``transform`` (a sample's
        rendering is a function of the data set's seed and its index)."""
        return self.transform is not None

    def __getitem__(self, index: int) -> tuple[Any, int]:
        index = self._check_index(index)
        if self.cache:
            self._fill(index // self._chunk)
            start, count = int(self._offsets[index]), self.lengths[index]
            frames = self._store[start : start + count]
        else:
            frames = self._render(torch.tensor([index]))[0]
        x = frames.float().div_(255)
        x = x[0] if self.modality == "image" else x
        if self.transform is not None:
            x = self.transform(x)
        return x, self.targets[index]

    def stack_items(
        self, indices: Sequence[int], select: Callable[[int], Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        """Items ``indices`` as one batch: ``(B, C, H, W)`` stills or ``(B, T, C, H, W)`` clips,
        and their labels ``(B,)``; equal to stacking ``self[i]`` for each index.

        ``select``: for clips, a function of a clip's length that gives the indices of the frames
        to keep, e.g. evenly spaced ones (:class:`rvit.data.clips.FixedLengthClips` passes its
        resampling). From the cache and without a ``transform`` the batch is read with one gather
        and one conversion to float, not one per sample (the training loader uses this: per-sample
        reads were a fifth of a small model's training step); otherwise items are read one by one.
        Clips that end up of different lengths raise ``ValueError``.
        """
        index = torch.tensor([self._check_index(i) for i in indices], dtype=torch.long)
        if not self.cache or self.transform is not None:
            items = [self[int(i)][0] for i in index]
            if select is not None and self.modality == "video":
                items = [x[select(x.shape[0])] for x in items]
            shapes = {tuple(x.shape) for x in items}
            if len(shapes) > 1:
                raise ValueError(f"items {list(indices)} have different shapes {sorted(shapes)}")
            return torch.stack(items), self._labels[index]
        for chunk in (index // self._chunk).unique().tolist():
            self._fill(chunk)
        starts = self._offsets[index]
        if self.modality == "image":
            return self._store[starts].float().div_(255), self._labels[index]
        lengths = [self.lengths[i] for i in index.tolist()]
        by_length = {n: torch.arange(n) if select is None else select(n) for n in set(lengths)}
        kept = {len(rows) for rows in by_length.values()}
        if len(kept) > 1:
            raise ValueError(
                f"clips in a batch have different lengths {sorted(set(lengths))}; train with "
                "variable_length=True, or set frames=T to resample every video to T frames"
            )
        rows = torch.stack([by_length[n] for n in lengths])
        return self._store[starts[:, None] + rows].float().div_(255), self._labels[index]

    def render(self, index: int, label: int | None = None) -> Tensor:
        """Render sample ``index`` without the cache or transform, as class ``label`` if given.

        Returns (C, H, W) or (T, C, H, W) float32 in [0, 1]. Everything but the action is the same
        for every ``label``: rendering the same index as the two classes of a motion pair gives the
        same frames in reverse order (at ``difficulty=0``, where frames have no per-frame jitter).
        """
        index = self._check_index(index)
        if label is None:
            label = self.targets[index]
        if (
            isinstance(label, bool)
            or not isinstance(label, int)
            or not 0 <= label < len(self.classes)
        ):
            raise ValueError(f"label must be an int in [0, {len(self.classes)}), got {label!r}")
        frames = self._render(torch.tensor([index]), torch.tensor([label]))[0].float() / 255
        return frames[0] if self.modality == "image" else frames

    def precompute(self) -> SyntheticActions:
        """Render every sample into the cache now (e.g. before forking DataLoader workers)."""
        for chunk in range(len(self._ready)):
            self._fill(chunk)
        return self

    def sample_params(self, index: int) -> dict[str, Any]:
        """What sample ``index`` shows: class, clip times, trajectory, placement and nuisances.

        ``times`` are the instants of the action shown by each frame (in [0, 1) of the clip); for a
        motion class ``trajectory`` gives the position ``u`` on the shared pose trajectory of each
        frame (decreasing for the backward class of a pair); ``still_frame`` is the frame a still
        shows.
        """
        index = self._check_index(index)
        idx = torch.tensor([index])
        s = {k: v[0] for k, v in self._sampler.samples(idx, self._labels[idx]).items()}
        length = int(s["length"])
        position = torch.arange(length)
        shown = (length - 1 - position) if bool(s["reverse"]) else position
        times = (shown + s["offset"]) / length
        name = CLASSES[int(s["cls"])]
        params: dict[str, Any] = {
            "index": index,
            "label": self.targets[index],
            "class_name": name,
            "group": CLASS_GROUPS[name],
            "pose": _POSE_NAMES[int(s["pose"])],
            "reverse": bool(s["reverse"]),
            "frames": length,
            "still_frame": int(s["still"]),
            "times": times.tolist(),
            "mirrored": bool(s["mirror"]),
            "figure_height_px": float(s["height"]),
            "center_x_px": float(s["cx"]),
            "ground_y_px": float(s["ground"]),
            "limb_radius_px": float(s["radius"]),
            "background": _BACKGROUND_KINDS[int(s["background_kind"])],
            "occluded": bool(s["occluder_visible"]),
            "noise_std": float(s["noise_std"]),
        }
        if bool(s["periodic"]):
            params["cycles"] = float(s["cycles"])
            params["phase"] = float(s["phase"])
        else:
            params["trajectory"] = (s["start"] + s["span"] * times).clamp(0, 1).tolist()
        return params

    # -- internals -----------------------------------------------------------------------------
    def _check_index(self, index: Any) -> int:
        if isinstance(index, Tensor) and index.numel() == 1:
            index = int(index)
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        if index < 0:
            index += self.num_samples
        if not 0 <= index < self.num_samples:
            raise IndexError(f"index {index} out of range for {self.num_samples} samples")
        return index

    def _render(self, index: Tensor, label: Tensor | None = None) -> list[Tensor]:
        label = self._labels[index] if label is None else label
        frames, counts = self._sampler.render(index, label, self.modality == "video")
        return list(frames.split(counts.tolist()))

    def _fill(self, chunk: int) -> None:
        if self._ready[chunk]:
            return
        if self._store is None:
            size = self.image_size
            self._store = torch.empty(self._total_frames, 3, size, size, dtype=torch.uint8)
        start = chunk * self._chunk
        index = torch.arange(start, min(start + self._chunk, self.num_samples))
        frames, _ = self._sampler.render(index, self._labels[index], self.modality == "video")
        first = int(self._offsets[start])
        self._store[first : first + frames.shape[0]] = frames
        self._ready[chunk] = True

    def __repr__(self) -> str:
        return (
            f"SyntheticActions(split={self.split!r}, modality={self.modality!r}, "
            f"num_samples={self.num_samples}, frames={self.frames!r}, image_size={self.image_size}, "
            f"seed={self.seed}, domain_gap={self.domain_gap}, difficulty={self.difficulty}, "
            f"classes={len(self.classes)})"
        )
