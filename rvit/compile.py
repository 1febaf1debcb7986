"""An opt-in ``torch.compile`` path for training and for streaming (chapter 6).

Eager PyTorch runs one operator at a time, and a small model pays a fixed cost per operator
(dispatch, a fresh output tensor, one pass over memory). ``torch.compile`` traces the model once
and fuses its element-wise work (LayerNorm, GELU, the gate's sigmoid and clamp, residual sums)
into a few kernels between the matrix products. It pays where that overhead dominates: streaming
one video at a time (batch 1) and training small models; it costs a compile on the first call
(tens of seconds on a CPU, see ``benchmarks/bench_train.py``) and one more compile for each new
input shape (another clip length, another batch size): shapes stay static (``dynamic=False``),
because symbolic shapes fail to compile for these models in inductor (torch 2.14).

* :func:`compile_for_training`: the module the optimiser step calls. The compiled module shares
  its parameters with the original, so the original is what checkpoints save and resume loads:
  checkpoints are the same whether training was compiled or not.
* :func:`compile_step`: ``model.step`` compiled, for frame-by-frame evaluation.

Random operations (dropout, recurrent-dropout masks) run through PyTorch's own generator
(``fallback_random``), so a compiled run draws the same random numbers as an eager one and
differs from it only by float rounding (fused kernels sum in another order).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from rvit.streaming import check_finite

__all__ = [
    "COMPILE_OPTIONS",
    "compile_for_seeds",
    "compile_for_training",
    "compile_status",
    "compile_step",
]

COMPILE_OPTIONS = {"fallback_random": True}
"""Inductor options of every compile here: random numbers from PyTorch's generator, as in eager."""


def compile_status(device: str | torch.device = "cpu") -> tuple[bool, str]:
    """Whether ``torch.compile`` can run on ``device`` here, and why not when it cannot.

    On the CPU, inductor writes C++ and needs a compiler (``c++``, ``g++`` or ``clang++``)."""
    if not hasattr(torch, "compile"):
        return False, f"torch {torch.__version__} has no torch.compile"
    if torch.device(device).type == "cpu" and not any(
        shutil.which(name) for name in ("c++", "g++", "clang++")
    ):
        return False, "torch.compile on the CPU needs a C++ compiler (c++, g++ or clang++)"
    return True, ""


def _check(device: str | torch.device) -> None:
    ok, reason = compile_status(device)
    if not ok:
        raise RuntimeError(f"compile=True: {reason}")


def _device_of(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def compile_for_training(model: nn.Module) -> nn.Module:
    """``model`` compiled for training: call it instead of ``model``; save ``model`` itself.

    The result shares ``model``'s parameters and buffers (an optimiser built on either updates
    both), and its ``state_dict`` keys carry an ``_orig_mod.`` prefix, which is why checkpoints
    are written from the original module."""
    _check(_device_of(model))
    return torch.compile(model, dynamic=False, options=COMPILE_OPTIONS)


def compile_for_seeds(
    batched: Callable[..., Any], device: str | torch.device = "cpu"
) -> Callable[..., Any]:
    """The forward pass of several seeds (``torch.vmap`` over ``functional_call``, see
    :func:`rvit.multiseed.fit_seeds`) compiled; its backward pass is compiled with it.

    The vmapped function is traced once per clip shape. Under the compiler the linear-attention
    feature map takes its plain form (:func:`rvit.attention.elu_feature_map`): the hand-written
    backward pass writes in place, which inductor cannot trace under ``vmap``."""
    _check(device)
    return torch.compile(batched, dynamic=False, options=COMPILE_OPTIONS)


def compile_step(model: nn.Module) -> Callable[..., Any]:
    """``model.step`` compiled: ``step(frame, state) -> (logits, state)``, the same numbers.

    The input checks of ``step`` still run: finite pixels eagerly before the compiled call (a
    data-dependent check inside the graph would split it), the state's model and sizes inside; the first frame of a stream (no hidden state yet)
    and the later frames are two compiled graphs, made once per batch size and frame size. Give
    ``num_frames`` to ``init_state`` as a tensor: an int is compiled into the graph (one compile
    per video length)."""
    _check(_device_of(model))
    compiled = torch.compile(model.step, dynamic=False, options=COMPILE_OPTIONS)

    def step(frame: torch.Tensor, state: Any, **kwargs: Any) -> Any:
        if isinstance(frame, torch.Tensor) and frame.device.type != "meta":
            check_finite(frame, "frame")  # eagerly: inside the graph it would split it in pieces
        # A fresh copy with standard strides: a frame cut out of a (B, T, ...) video has strides
        # that depend on T, and each new stride would be one more compile.
        return compiled(frame.clone(memory_format=torch.contiguous_format), state, **kwargs)

    return step
