"""Small tools every run needs: seeding, devices, atomic writes and provenance.

* Seeding: :func:`seed_everything` seeds Python, NumPy and torch; :func:`make_generator` and
  :func:`worker_init_fn` make ``DataLoader`` workers reproducible.
* Devices: :func:`resolve_device` turns ``"auto"`` into CUDA when there is a GPU, else the CPU.
* Atomic writes: a result file is first written to a temporary file in the same folder, then renamed
  over the target with :func:`os.replace`, so a crash never leaves a half-written file behind.
* Provenance: :func:`environment_info`, :func:`git_info` and :func:`provenance` describe the code,
  the packages and the hardware that produced a result.
"""

from __future__ import annotations

import io
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from rvit.notebook import cpu_model

__all__ = [
    "atomic_open",
    "atomic_save",
    "atomic_write_json",
    "atomic_write_text",
    "call_with_rng_isolated",
    "check_writable",
    "current_umask",
    "environment_info",
    "git_info",
    "make_generator",
    "provenance",
    "run_git",
    "resolve_device",
    "seed_everything",
    "to_jsonable",
    "worker_init_fn",
    "WriteError",
]

# ----------------------------------------------------------------------------------------------
# seeding


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every GPU).

    With ``deterministic=True`` torch is also asked for deterministic kernels
    (``torch.use_deterministic_algorithms``): needed for bit-identical runs on GPUs, not on the CPU.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (the legacy global generator is what we seed)
    torch.manual_seed(seed)  # seeds every CUDA device too
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False


def make_generator(seed: int) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with ``seed``, for a ``DataLoader(generator=...)``."""
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator


def worker_init_fn(worker_id: int) -> None:
    """Seed Python and NumPy inside a ``DataLoader`` worker.

    torch already seeds each worker with ``base_seed + worker_id``, ``base_seed`` being drawn from
    the loader's generator; Python's ``random`` and NumPy are seeded from that same number so that
    augmentations written with either library are reproducible as well.
    """
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)  # noqa: NPY002 (the legacy global generator is what we seed)


# ----------------------------------------------------------------------------------------------
# devices


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` -> the first CUDA device when one is available, else the CPU.

    Any other value is passed to ``torch.device``; asking for CUDA on a machine without a GPU raises
    a ``ValueError``.
    """
    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            resolved = torch.device(device)
        except RuntimeError as error:
            raise ValueError(f"device {device!r} is not a valid torch device: {error}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {str(resolved)!r} was requested but CUDA is not available")
    return resolved


# ----------------------------------------------------------------------------------------------
# atomic writes


@contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """Open a temporary file next to ``path``; on success rename it over ``path`` atomically.

    If the body raises, the temporary file is removed and ``path`` keeps its old content. A write
    the system refuses (disk full, no permission, read-only file system) raises one
    :class:`WriteError` naming ``path`` and saying that the previous file is unchanged.
    ``mode`` is ``"w"`` (text) or ``"wb"`` (bytes).

    The file gets the mode any new file gets (``0o666`` less the umask, usually ``0o644``), not
    the ``0o600`` that ``tempfile.mkstemp`` gives its temporary file: results and checkpoints are
    meant to be read by the user's group and tools as any other output is.
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    target = Path(path)
    tmp_name: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        if hasattr(os, "fchmod"):  # POSIX
            os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, target)
    except OSError as error:
        _remove(tmp_name)
        if isinstance(error, WriteError):
            raise
        kept = "the previous file is unchanged" if target.exists() else "nothing was written"
        reason = error.strerror or str(error)
        raise WriteError(error.errno, f"cannot write '{target}': {reason}; {kept}") from error
    except BaseException:
        _remove(tmp_name)
        raise


def current_umask() -> int:
    """The process's file-mode creation mask (``0o022`` typically), without changing it.

    Read from ``/proc/self/status`` where the kernel reports it, so that no other thread sees a
    changed mask; elsewhere it is set and restored at once."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


class WriteError(OSError):
    """A file could not be written; the message names it and says what was kept."""

    def __init__(self, errno: int | None, message: str) -> None:
        super().__init__(errno, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _remove(name: str | None) -> None:
    if name is not None:
        with _ignore_missing():
            os.unlink(name)


def check_writable(folder: str | os.PathLike, what: str = "output folder") -> Path:
    """Make ``folder`` if needed and check that a file can be written in it, before any work.

    Raises:
        WriteError: naming ``folder`` and the reason (no permission, read-only, a file there).
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".write-check.", dir=folder)
        os.close(fd)
        os.unlink(name)
    except OSError as error:
        reason = error.strerror or str(error)
        raise WriteError(error.errno, f"{what} '{folder}' cannot be written: {reason}") from None
    return folder


@contextmanager
def _ignore_missing() -> Iterator[None]:
    try:
        yield
    except FileNotFoundError:
        pass


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically; returns the path."""
    with atomic_open(path, "w", encoding="utf-8") as handle:
        handle.write(text)
    return Path(path)


def atomic_write_json(path: str | os.PathLike, obj: Any, indent: int = 2) -> Path:
    """Write ``obj`` as JSON to ``path`` atomically (NumPy and torch scalars are converted)."""
    text = json.dumps(to_jsonable(obj), indent=indent, allow_nan=True) + "\n"
    return atomic_write_text(path, text)


def atomic_save(obj: Any, path: str | os.PathLike) -> Path:
    """``torch.save(obj, path)`` through a temporary file, so a crash never leaves half a file.

    The object is serialised in memory first, then written with plain file writes, so a full disk
    is one :class:`WriteError` naming ``path`` (not an error from inside the zip writer).
    """
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_open(path, "wb") as handle:
        handle.write(buffer.getbuffer())
    return Path(path)


def to_jsonable(obj: Any) -> Any:
    """Convert NumPy/torch scalars and arrays, paths, tuples and sets to plain JSON types."""
    if isinstance(obj, dict):
        return {str(key): to_jsonable(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple | set | frozenset):
        return [to_jsonable(value) for value in obj]
    if isinstance(obj, torch.Tensor):
        return to_jsonable(obj.detach().cpu().tolist())
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, torch.device | torch.dtype):
        return str(obj)
    return obj


# ----------------------------------------------------------------------------------------------
# provenance


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment_info() -> dict[str, Any]:
    """Package versions and hardware: Python, torch, torchvision, NumPy, PyAV; CPU, cores, GPUs."""
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {
            name: _version(name)
            for name in ("rvit", "torch", "torchvision", "numpy", "av", "pandas", "tqdm")
        },
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "cuda_version": torch.version.cuda,
        "gpus": [],
    }
    if torch.cuda.is_available():
        info["gpus"] = [
            torch.cuda.get_device_name(index) for index in range(torch.cuda.device_count())
        ]
    return info


def run_git(folder: str | os.PathLike, *args: str, timeout: float = 30) -> Any:
    """``git <args>`` run in ``folder``: the ``subprocess.CompletedProcess`` (text output), or None
    when git is missing or does not answer within ``timeout`` seconds."""
    try:
        return subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None


def git_info(path: str | os.PathLike | None = None) -> dict[str, Any]:
    """The git commit of the code and whether the work tree has uncommitted changes.

    ``path`` defaults to the folder of this package. Outside a git checkout (an installed wheel),
    both fields are ``None``.
    """
    folder = Path(path) if path is not None else Path(__file__).resolve().parent

    def run(*args: str) -> str | None:
        done = run_git(folder, *args, timeout=10)
        return done.stdout.strip() if done is not None and done.returncode == 0 else None

    commit = run("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = run("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def provenance(
    extra: dict[str, Any] | None = None,
    git: Mapping[str, Any] | None = None,
    torch_threads: int | None = None,
) -> dict[str, Any]:
    """Everything a result file should say about where it came from.

    Returns ``{"created", "command", "git", "environment", **extra}``; ``environment`` names the
    CPU model (``cpu``), the instruction set torch's kernels use (``cpu_capability``) and the torch
    thread count (``torch_threads``). ``git`` is the code's commit when the caller resolved it
    earlier (the commit of the code that ran, not the one at write time; default: :func:`git_info`
    now); ``torch_threads`` the thread count of the process that computed the result when that was
    another one (a worker of a pool).
    """
    environment = environment_info()
    # the kernels torch dispatches to (AVX2, AVX512, ...): the same code and seed give other
    # floating-point results on another instruction set, which a CPU's model name does not say
    environment["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
    if torch_threads is not None:
        environment["torch_threads"] = int(torch_threads)
    record: dict[str, Any] = {
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]) if sys.argv else None,
        "git": dict(git) if git is not None else git_info(),
        "environment": environment,
    }
    if extra:
        record.update(extra)
    return record


def call_with_rng_isolated(fn: Callable[[], Any], seed: int) -> Any:
    """Call ``fn()`` with Python, NumPy and torch CPU generators seeded from ``seed``.

    The caller's generator states are restored afterwards, so the call neither depends on nor
    changes the global random state: what ``fn`` draws is a pure function of ``seed``.

    Why the global generators, seeded per call, and not a generator of the sample's own:
    torchvision's v2 transforms (the augmentations) draw their parameters from torch's global
    generator and take none of their own, and a user's data set may draw from Python's or NumPy's.
    Only torch's CPU generator is seeded (``torch.default_generator.manual_seed``, about 2 us):
    ``torch.manual_seed`` would also queue a lazy seed for every CUDA device, which on a CUDA build
    formats a stack trace per call (about 1 ms from a data loader's depth) and changes no draw on
    the CPU, so the samples are the same numbers as with it.
    """
    py_state = random.getstate()
    np_state = np.random.get_state()  # noqa: NPY002 (the legacy global generator is what we seed)
    torch_state = torch.get_rng_state()
    torch.default_generator.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # noqa: NPY002 (the legacy global generator is what we seed)
    try:
        return fn()
    finally:
        torch.set_rng_state(torch_state)
        random.setstate(py_state)
        np.random.set_state(np_state)  # noqa: NPY002 (the legacy global generator is what we seed)
