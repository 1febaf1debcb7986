"""Class correspondences between Stanford 40 Actions, UCF101 and HMDB51, with their sources.

Each mapping is a dict ``{class of the first set: class(es) of the second}``; a value is a name, or a
tuple of names when several classes of the second set show the same action. :data:`SOURCES` says
where each one comes from. :func:`rvit.data.labels.restrict_to_shared` (chapter 11) turns a mapping
into two relabelled data sets that share one label space, which is what evaluating an image-trained
model on videos needs.
"""

from __future__ import annotations

__all__ = [
    "STANFORD40_CLASSES",
    "STANFORD40_HMDB51",
    "STANFORD40_UCF101",
    "UCF101_HMDB51",
    "IN_ALL_THREE",
    "SOURCES",
]

#: The 40 Stanford 40 Actions classes in ``sorted()`` order, which is their label order.
STANFORD40_CLASSES: tuple[str, ...] = (
    "applauding",
    "blowing_bubbles",
    "brushing_teeth",
    "cleaning_the_floor",
    "climbing",
    "cooking",
    "cutting_trees",
    "cutting_vegetables",
    "drinking",
    "feeding_a_horse",
    "fishing",
    "fixing_a_bike",
    "fixing_a_car",
    "gardening",
    "holding_an_umbrella",
    "jumping",
    "looking_through_a_microscope",
    "looking_through_a_telescope",
    "phoning",
    "playing_guitar",
    "playing_violin",
    "pouring_liquid",
    "pushing_a_cart",
    "reading",
    "riding_a_bike",
    "riding_a_horse",
    "rowing_a_boat",
    "running",
    "shooting_an_arrow",
    "smoking",
    "taking_photos",
    "texting_message",
    "throwing_frisby",
    "using_a_computer",
    "walking_the_dog",
    "washing_dishes",
    "watching_TV",
    "waving_hands",
    "writing_on_a_board",
    "writing_on_a_book",
)

#: Stanford 40 -> HMDB51, 12 pairs used by public image-to-video course projects.
STANFORD40_HMDB51: dict[str, str | tuple[str, ...]] = {
    "applauding": "clap",
    "climbing": "climb",
    "drinking": "drink",
    "jumping": "jump",
    "pouring_liquid": "pour",
    "riding_a_bike": "ride_bike",
    "riding_a_horse": "ride_horse",
    "running": "run",
    "shooting_an_arrow": "shoot_bow",
    "smoking": "smoke",
    "throwing_frisby": "throw",
    "waving_hands": "wave",
}

#: Stanford 40 -> UCF101, 13 classes DERIVED BY NAME MATCHING (see ``SOURCES``).
STANFORD40_UCF101: dict[str, str | tuple[str, ...]] = {
    "brushing_teeth": "BrushingTeeth",
    "cleaning_the_floor": "MoppingFloor",
    "climbing": ("RockClimbingIndoor", "RopeClimbing"),
    "cutting_vegetables": "CuttingInKitchen",
    "playing_guitar": "PlayingGuitar",
    "playing_violin": "PlayingViolin",
    "riding_a_bike": "Biking",
    "riding_a_horse": "HorseRiding",
    "rowing_a_boat": "Rowing",
    "shooting_an_arrow": "Archery",
    "throwing_frisby": "FrisbeeCatch",
    "walking_the_dog": "WalkingWithDog",
    "writing_on_a_board": "WritingOnBoard",
}

#: UCF101 -> HMDB51, the 12 HMDB classes (15 UCF classes) of the UCF-HMDB_full benchmark.
UCF101_HMDB51: dict[str, str | tuple[str, ...]] = {
    "RockClimbingIndoor": "climb",
    "RopeClimbing": "climb",
    "Fencing": "fencing",
    "GolfSwing": "golf",
    "SoccerPenalty": "kick_ball",
    "PullUps": "pullup",
    "Punch": "punch",
    "BoxingPunchingBag": "punch",
    "BoxingSpeedBag": "punch",
    "PushUps": "pushup",
    "Biking": "ride_bike",
    "HorseRiding": "ride_horse",
    "Basketball": "shoot_ball",
    "Archery": "shoot_bow",
    "WalkingWithDog": "walk",
}

#: Actions present in all three sets: (Stanford 40, HMDB51, UCF101).
IN_ALL_THREE: tuple[tuple[str, str, str], ...] = (
    ("climbing", "climb", "RockClimbingIndoor"),
    ("riding_a_bike", "ride_bike", "Biking"),
    ("riding_a_horse", "ride_horse", "HorseRiding"),
    ("shooting_an_arrow", "shoot_bow", "Archery"),
    ("walking_the_dog", "walk", "WalkingWithDog"),
)

#: Where each mapping comes from.
SOURCES: dict[str, str] = {
    "STANFORD40_CLASSES": (
        "The 40 action names of Stanford 40 Actions (Yao et al., ICCV 2011), file-name spelling "
        "(note the capitals of watching_TV), in sorted() order."
    ),
    "STANFORD40_HMDB51": (
        "12 pairs from several public course-project repositories that train on Stanford 40 images "
        "and fine-tune on HMDB51 frames (a 'keep_hmdb51' list aligned position by position with "
        "its Stanford 40 list). Not from a paper."
    ),
    "STANFORD40_UCF101": (
        "DERIVED BY NAME MATCHING, not from a paper: image-to-video adaptation work (HiGAN, "
        "IJCAI 2018; DIVAFN, TIP 2020; CycDA, ECCV 2022) uses 12 shared Stanford40->UCF101 "
        "classes, but no public source found gives the exact list. Every UCF name here is a real "
        "classInd.txt class; the 10 classes shown in DIVAFN's dataset figure are all included. "
        "'jumping' is left out (JumpingJack or TrampolineJumping is ambiguous) and 'climbing' "
        "maps to both UCF climbing classes. Check the CycDA supplementary before quoting results."
    ),
    "UCF101_HMDB51": (
        "The UCF-HMDB_full domain-adaptation benchmark (Chen et al., TA3N, ICCV 2019, "
        "arXiv 1907.12743), from its public code (ucf_2_full / hmdb_2_full): 12 HMDB51 classes, "
        "some matching several UCF101 classes."
    ),
    "IN_ALL_THREE": (
        "The intersection of the three mappings above; walking_the_dog <-> walk is a loose match."
    ),
}
