"""Where a training process sits in a ``torchrun`` job, and sums over every process.

:class:`DistributedContext` reads ``torchrun``'s variables, starts the process group (NCCL on
GPUs, else gloo) and gives each process its own GPU; one process alone is the same code with a
world of size 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from rvit.utils import resolve_device

__all__ = ["DistributedContext"]


@dataclass
class DistributedContext:
    """Where this process sits in a ``torchrun`` job (``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``)."""

    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    owns_group: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls, device: str = "auto") -> DistributedContext:
        """Read torchrun's variables and start the process group (NCCL on GPUs, else gloo)."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size <= 1:
            return cls()
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        owns = False
        if not dist.is_initialized():
            use_cuda = torch.cuda.is_available() and device in ("auto", "cuda")
            dist.init_process_group(backend="nccl" if use_cuda else "gloo")
            owns = True
        return cls(dist.get_world_size(), dist.get_rank(), local_rank, owns)

    def device(self, requested: str) -> torch.device:
        """The device of this process: its own GPU under torchrun, else ``requested``."""
        device = resolve_device(requested)
        if self.enabled and device.type == "cuda":
            device = torch.device("cuda", self.local_rank)
            torch.cuda.set_device(device)
        return device

    def all_sum(self, values: list[float], device: torch.device) -> list[float]:
        """Sum ``values`` over every process (identity for one process)."""
        if not self.enabled:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=device)
        dist.all_reduce(tensor)
        return tensor.tolist()

    def close(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
