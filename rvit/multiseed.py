"""Several seeds of one small model trained as one computation (chapter 8's study uses it).

A study trains the same configuration with many seeds. At the study's sizes (width 48, 2 layers,
16 tokens per frame) one training step is bound by the number of operators, not by arithmetic: the
CPU spends most of a step in Python and kernel launches. :func:`fit_seeds` stacks the seeds' weights
(``torch.func.stack_module_state``) and runs the model once per step over all of them with
``torch.func.vmap``, so every operator does the work of every seed in one call.

Each seed keeps what a run of its own has: its initial weights, its data order and per-sample
randomness (its own loader, seeded from ``(seed, epoch, index)`` as in :func:`rvit.train.fit`), its
optimiser state (AdamW is elementwise, so one optimiser over the stacked weights updates each seed as
its own would), its gradient clipping (the norm is taken per seed) and its learning-rate schedule
(the same for all). The result is each seed's :class:`~rvit.train.History` with its trained model,
equal to ``fit`` with that seed up to float rounding: the batched products sum in another order
(``tests/test_multiseed.py`` states the tolerance).

With ``TrainConfig.compile`` the batched step goes through ``torch.compile``
(:func:`rvit.compile.compile_for_seeds`): inductor fuses the element-wise work between the batched
products (bias sums, LayerNorm, GELU, the feature map, the optimiser's inputs), which is most of a
step's time at these sizes. It costs one compile per process and clip shape (tens of CPU-seconds;
inductor's on-disk cache shortens the next process's) and changes the numbers by float rounding
only.

What it does not do, and :func:`group_problem` refuses: randomness inside the model while training
(dropout or recurrent dropout: under ``vmap`` each seed would draw other numbers than alone), videos
of variable length, validation, checkpoints, mixed precision and several processes. A stopped group
is trained again from the start; the study's runs are minutes long.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from rvit.data.clips import as_training_set
from rvit.data.loader import make_loader
from rvit.streaming import check_finite
from rvit.train import History, TrainConfig, _adamw_kernel, _make_optimizer, warmup_cosine
from rvit.utils import resolve_device

__all__ = ["fit_seeds", "group_problem"]


def group_problem(model: nn.Module, config: TrainConfig) -> str:
    """Why ``model`` trained with ``config`` cannot join a group of seeds ('' when it can)."""
    cfg = getattr(model, "cfg", None)
    if cfg is not None and (getattr(cfg, "dropout", 0) or getattr(cfg, "recurrent_dropout", 0)):
        return "the model draws dropout while training"
    if config.variable_length:
        return "videos of variable length"
    if config.checkpoint_dir is not None:
        return "checkpoints"
    if config.amp and resolve_device(config.device).type == "cuda":
        return "mixed precision"
    return ""


def _check_group(models: Sequence[nn.Module], configs: Sequence[TrainConfig]) -> None:
    if not models or len(models) != len(configs):
        raise ValueError(
            f"fit_seeds needs one config per model; got {len(models)} models, {len(configs)} configs"
        )
    first = dataclasses.replace(configs[0], seed=0)
    for config in configs[1:]:
        if dataclasses.replace(config, seed=0) != first:
            raise ValueError(
                "fit_seeds trains one configuration: the configs may differ in seed only"
            )
    seeds = [c.seed for c in configs]
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"fit_seeds needs distinct seeds; got {seeds}")
    kinds = {(type(m), getattr(m, "cfg", None)) for m in models}
    if len(kinds) != 1:
        raise ValueError("fit_seeds trains one architecture: the models differ in class or config")
    for model, config in zip(models, configs, strict=True):
        problem = group_problem(model, config)
        if problem:
            raise ValueError(f"seed {config.seed} cannot be trained in a group: {problem}")


def fit_seeds(
    models: Sequence[nn.Module],
    train_set: Dataset | Sequence[Dataset],
    configs: Sequence[TrainConfig],
) -> list[History]:
    """Train ``models[i]`` with ``configs[i]`` (one configuration, distinct seeds) as one computation.

    ``train_set`` is one data set for every seed, or one per seed (the study draws each seed's
    training samples from that seed), all of one length.

    Returns one :class:`~rvit.train.History` per seed, in order, whose model holds that seed's
    trained weights. ``seconds`` of a record is the group's time divided by the number of seeds
    (what a seed cost). Raises ``ValueError`` when the configs differ in more than their seed, the
    models in class or config, or a seed cannot join a group (:func:`group_problem`), and
    ``FloatingPointError`` naming the seed whose loss is not finite.
    """
    _check_group(models, configs)
    config = configs[0]
    device = resolve_device(config.device)
    count = len(models)
    sets = list(train_set) if isinstance(train_set, list | tuple) else [train_set] * count
    if len(sets) != count:
        raise ValueError(f"fit_seeds needs one training set or {count}; got {len(sets)}")
    sizes = {len(s) for s in sets}
    if len(sizes) != 1:
        raise ValueError(f"the seeds' training sets differ in length: {sorted(sizes)}")
    loaders = [
        make_loader(
            as_training_set(data, config.modality, config.frames, config.camera),
            config.batch_size,
            shuffle=True,
            seed=c.seed,
            variable_length=False,
            num_workers=config.num_workers,
            pin_memory=device.type == "cuda",
        )
        for c, data in zip(configs, sets, strict=True)
    ]
    steps_per_epoch = math.ceil(len(loaders[0][1].sampler) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)

    models = [m.to(device).train() for m in models]
    params, buffers = torch.func.stack_module_state(models)  # name -> (S, ...) leaves
    template = copy.deepcopy(models[0]).to("meta")
    # one AdamW over the stacked weights, with the decay groups a single run would form
    single = _make_optimizer(models[0], config)
    names = {id(p): n for n, p in models[0].named_parameters()}
    groups = [
        {
            **{k: v for k, v in g.items() if k != "params"},
            "params": [params[names[id(p)]] for p in g["params"]],
        }
        for g in single.param_groups
    ]
    optimizer = torch.optim.AdamW(groups, lr=config.lr, **_adamw_kernel(list(params.values())))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, warmup_steps, total_steps)
    )
    criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing, reduction="none")

    def logits_of(p: dict[str, torch.Tensor], b: dict[str, torch.Tensor], x: torch.Tensor):
        return torch.func.functional_call(template, (p, b), (x,))

    batched = torch.vmap(logits_of)
    if config.compile:
        from rvit.compile import compile_for_seeds

        batched = compile_for_seeds(batched, device)
    records: list[list[dict[str, Any]]] = [[] for _ in models]
    step = 0
    for epoch in range(config.epochs):
        for _, sampler, _ in loaders:
            sampler.set_epoch(epoch)
        totals = torch.zeros(count, 3, dtype=torch.float64)  # loss sum, correct, samples
        tick = time.perf_counter()
        for batches in zip(*(loader for loader, _, _ in loaders), strict=True):
            videos = torch.stack([v for v, _, _ in batches]).to(device)  # (S, B, T, C, H, W)
            labels = torch.stack([y for _, _, y in batches]).to(device)  # (S, B)
            check_finite(videos, "a training batch")
            logits = batched(params, buffers, videos).float()  # (S, B, K)
            per_sample = criterion(logits.flatten(0, 1), labels.flatten()).view(labels.shape)
            losses = per_sample.mean(dim=1)  # (S,): each seed's mean, as a run of its own
            values = losses.detach().double().cpu()
            if not torch.isfinite(values).all():
                bad = [
                    c.seed
                    for c, v in zip(configs, values.tolist(), strict=True)
                    if not math.isfinite(v)
                ]
                raise FloatingPointError(
                    f"training loss is not finite for seed(s) {bad} at epoch {epoch + 1}, "
                    f"step {step + 1}"
                )
            optimizer.zero_grad(set_to_none=True)
            losses.sum().backward()  # the seeds share no weight: each gets its own gradient
            if config.grad_clip is not None:
                _clip_per_seed(list(params.values()), config.grad_clip)
            optimizer.step()
            scheduler.step()
            step += 1
            size = labels.shape[1]
            correct = (logits.argmax(dim=-1) == labels).sum(dim=1).double().cpu()
            totals += torch.stack([values * size, correct, torch.full((count,), float(size))], 1)
            if config.max_steps is not None and step >= config.max_steps:
                break
        seconds = (time.perf_counter() - tick) / count
        for i in range(count):
            loss_sum, right, seen = totals[i].tolist()
            records[i].append(
                {
                    "epoch": epoch + 1,
                    "step": step,
                    "train_loss": loss_sum / seen if seen else None,
                    "train_acc": right / seen if seen else None,
                    "val_loss": None,
                    "val_acc": None,
                    "lr": optimizer.param_groups[0]["lr"],
                    "seconds": seconds,
                    "samples_per_s": seen / seconds if seconds > 0 else None,
                }
            )
        if config.max_steps is not None and step >= config.max_steps:
            break
    histories = []
    with torch.no_grad():
        for i, model in enumerate(models):
            for name, parameter in model.named_parameters():
                parameter.copy_(params[name][i])
            for name, buffer in model.named_buffers():
                buffer.copy_(buffers[name][i])
            histories.append(History(records[i], model.eval(), None))
    return histories


def _clip_per_seed(stacked: list[torch.Tensor], max_norm: float) -> None:
    """``clip_grad_norm_`` for each seed: the norm over that seed's slice of every gradient."""
    grads = [p.grad for p in stacked if p.grad is not None]
    if not grads:
        return
    squares = torch.stack([g.flatten(1).pow(2).sum(dim=1) for g in grads]).sum(dim=0)  # (S,)
    scale = (max_norm / (squares.sqrt() + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))
