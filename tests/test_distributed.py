"""DistributedDataParallel: two CPU processes (gloo) train like one process on the same global batch.

Two processes with 4 samples each per step see, together, the 8 samples one process sees with a
batch of 8 (DistributedSampler deals one shuffled order out to the ranks), and DDP averages their
gradients; with dropout off the weights must agree up to float summation order (atol 1e-5).
"""

import os
import socket
import time

import pytest
import torch
import torch.multiprocessing as mp
from torch.utils.data import Dataset

from rvit.config import RViTConfig
from rvit.model import RViT
from rvit.train import TrainConfig, fit

K, SIZE, WORLD = 3, 16, 2
ATOL = 1e-5


class Stills(Dataset):
    """16 noisy stills whose brightness tells the class (a pure function of the index)."""

    classes = ["dark", "mid", "bright"]

    def __len__(self):
        return 16

    def __getitem__(self, index):
        g = torch.Generator().manual_seed(index)
        label = index % K
        image = 0.2 + 0.3 * label + 0.1 * torch.rand(3, SIZE, SIZE, generator=g)
        return image.clamp(0, 1), label


def make_model():
    torch.manual_seed(0)
    cfg = RViTConfig.paper(num_classes=K, image_size=SIZE, dim=32, depth=1, heads=2, patch_size=4)
    return RViT(cfg)


def config(batch_size, checkpoint_dir=None):
    return TrainConfig(
        modality="static_clip",
        frames=2,
        epochs=2,
        batch_size=batch_size,
        lr=3e-3,
        warmup_epochs=0.5,
        device="cpu",
        progress=False,
        checkpoint_dir=checkpoint_dir,
    )


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _train_rank(rank, port, out):
    """One process of the job, set up the way torchrun sets its processes up."""
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        WORLD_SIZE=str(WORLD),
        RANK=str(rank),
        LOCAL_RANK=str(rank),
    )
    torch.set_num_threads(1)
    history = fit(make_model(), Stills(), Stills(), config(8 // WORLD, checkpoint_dir=out))
    state = {k: v.detach() for k, v in history.model.state_dict().items()}
    torch.save({"state": state, "records": history.records}, os.path.join(out, f"rank{rank}.pt"))


def test_two_processes_train_like_one_on_the_global_batch(tmp_path):
    context = mp.start_processes(
        _train_rank,
        args=(free_port(), str(tmp_path)),
        nprocs=WORLD,
        join=False,
        start_method="spawn",
    )
    deadline = time.monotonic() + 120
    while not context.join(timeout=1):
        if time.monotonic() > deadline:
            for process in context.processes:
                process.kill()
            pytest.fail("the two training processes did not finish within 120 s")

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        single = fit(make_model(), Stills(), Stills(), config(8))
    finally:
        torch.set_num_threads(threads)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(WORLD)]
    expected = single.model.state_dict()
    for result in ranks:  # every rank holds the same weights, those of the single process
        for key, value in expected.items():
            torch.testing.assert_close(result["state"][key], value, atol=ATOL, rtol=0)
    for distributed, alone in zip(ranks[0]["records"], single.records, strict=True):
        assert distributed["step"] == alone["step"]
        assert distributed["val_acc"] == alone["val_acc"]  # summed over the ranks' shards
        assert abs(distributed["train_loss"] - alone["train_loss"]) < 1e-4
    # only rank 0 writes checkpoints and metrics
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == ["best.pt", "history.csv", "last.pt", "rank0.pt", "rank1.pt"]
