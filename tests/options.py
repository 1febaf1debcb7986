"""Configs that change one option field at a time, for the tests generated over ``OPTIONS``.

Each value of every option field is applied to the paper preset (the released block) and to the
reconstruction preset (this book's gated block), so a new option value is tested on both blocks
without editing any list. A value that needs a partner change gets it: ``tokens="patches"`` has no
class token for ``head="tokens"`` to read, so that change also takes the ``concat`` head.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rvit.config import OPTIONS, RViTConfig

PRESETS = ("paper", "reconstruction")


def one_change(field: str, value: Any, preset_defaults: dict[str, Any]) -> dict[str, Any]:
    """The overrides that set ``field`` to ``value`` on a preset whose choices are given."""
    changes = {field: value}
    if field == "tokens" and value != "class" and preset_defaults.get("head") == "tokens":
        changes["head"] = "concat"
    if field == "head" and value == "tokens":
        changes["tokens"] = "class"
    return changes


def option_configs(
    make: Callable[..., RViTConfig], keep: Callable[[str, Any], bool] = lambda f, v: True
) -> dict[str, RViTConfig]:
    """``{"<preset>:<field>=<value>": config}`` for every option value on both presets, built by
    ``make(preset, **overrides)``; ``keep(field, value)`` leaves some out."""
    configs = {}
    for preset in PRESETS:
        base = make(preset).to_dict()
        for field, values in OPTIONS.items():
            for value in values:
                if keep(field, value):
                    changes = one_change(field, value, base)
                    configs[f"{preset}:{field}={value}"] = make(preset, **changes)
    return configs
