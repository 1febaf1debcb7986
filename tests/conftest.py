"""Shared test settings: small thread count, deterministic seeds."""

import os

os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402
import torch  # noqa: E402

# Tiny tensors: one thread avoids spin-waiting workers, which costs far more than it gains here.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
