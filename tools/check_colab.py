"""Run a chapter the way Colab does: copied alone, in a fresh environment, installing the package itself.

``make check-colab`` (or ``python tools/check_colab.py [NOTEBOOK ...]``, chapters 9 and 1 by default)
builds a fresh virtual environment that holds what a Colab runtime has and this package does not
bring: torch, torchvision and the scientific Python of the package's dependencies (PyAV left out, as
Colab lacks it), plus a kernel. It then copies each notebook alone into an empty folder, sets its
``PROFILE`` to ``"smoke"``, and runs it in that environment's kernel with a stand-in ``google.colab``
module imported at start-up, so that the notebook's first cell does what it does in Colab: clone the
repository, install the package without its dependencies, install PyAV and point
``$RVIT_RESULTS_DIR`` at the clone's ``results/``.

Nothing here reaches GitHub: a private git configuration redirects the repository's URL
(``repository.url`` of ``_config.yml``) to this checkout, so the clone is of this checkout's committed
``main`` branch; the clone goes to a scratch folder (``$RVIT_COLAB_CHECKOUT``) instead of
``/content/rvit``. After the chapter's own cells, a last cell checks that ``rvit`` was imported from
that clone and that the results were found there.

Prints one line per notebook and exits 1 when one failed. Packages come from the configured package
index (pip's own settings); the first run downloads or copies them, which takes minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import tomllib
import venv
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from check_lab import scratch_copy  # noqa: E402

DEFAULT = ("09_efficiency.ipynb", "01_data.ipynb")
KERNEL_PACKAGES = ("ipykernel", "nbclient", "nbformat")

FINAL_CHECK = """\
import os
import sys
from pathlib import Path

import rvit
from rvit.notebook import results_dir

checkout = Path(os.environ["RVIT_COLAB_CHECKOUT"]).resolve()
assert "google.colab" in sys.modules
assert not Path(rvit.__file__).resolve().is_relative_to(Path({root!r}).resolve()), rvit.__file__
assert results_dir().resolve() == checkout / "results", results_dir()
print("rvit from", rvit.__file__, "| results from", results_dir())
"""


def colab_packages() -> list[str]:
    """The requirements of a stand-in Colab runtime: the package's dependencies but PyAV, and a kernel."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    deps = [d for d in project["dependencies"] if not d.replace(" ", "").startswith("av")]
    test = project["optional-dependencies"]["test"]
    return deps + [d for d in test if d.split(">")[0].split("=")[0] in KERNEL_PACKAGES]


def make_environment(folder: Path) -> Path:
    """A fresh virtual environment in ``folder`` with :func:`colab_packages`; returns its Python."""
    venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    python = folder / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *colab_packages()], check=True)
    subprocess.run(
        [str(python), "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return python


def fake_colab(folder: Path) -> Path:
    """A folder for ``PYTHONPATH`` whose ``sitecustomize`` imports a stand-in ``google.colab``."""
    (folder / "google" / "colab").mkdir(parents=True)
    (folder / "google" / "__init__.py").write_text("", encoding="utf-8")
    (folder / "google" / "colab" / "__init__.py").write_text(
        '"""Stands in for Colab\'s module: its presence is what the first cell tests."""\n',
        encoding="utf-8",
    )
    (folder / "sitecustomize.py").write_text(
        "import google.colab  # noqa: F401\n", encoding="utf-8"
    )
    return folder


def git_home(folder: Path) -> Path:
    """A ``HOME`` whose git configuration sends the repository's URL to this checkout."""
    url = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]["url"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ".gitconfig").write_text(
        f'[url "file://{ROOT}"]\n\tinsteadOf = {url}\n', encoding="utf-8"
    )
    return folder


def alone(notebook: Path, folder: Path) -> Path:
    """``notebook`` alone in ``folder``, at the smoke profile, with the final check appended."""
    folder.mkdir(parents=True)
    target = scratch_copy(notebook, folder)
    data = json.loads(target.read_text(encoding="utf-8"))
    data["cells"].append(
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "colab-check",
            "metadata": {},
            "outputs": [],
            "source": FINAL_CHECK.format(root=str(ROOT)),
        }
    )
    target.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return target


RUNNER = """\
import sys
import nbformat
from nbclient import NotebookClient

path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
print(nb.cells[-1].outputs[0]["text"].strip())
"""


def run(python: Path, notebook: Path, tmp: Path) -> subprocess.CompletedProcess:
    name = notebook.stem
    folder = alone(notebook, tmp / name / "alone")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("RVIT_RESULTS_DIR", "PYTHONPATH", "VIRTUAL_ENV")
    }
    env.update(
        HOME=str(git_home(tmp / name / "home")),
        PYTHONPATH=str(tmp / "colab-site"),
        RVIT_COLAB_CHECKOUT=str(tmp / name / "content" / "rvit"),
        RVIT_SCRATCH_DIR=str(tmp / name / "scratch"),
        RVIT_CHECKPOINTS_DIR=str(tmp / name / "checkpoints"),
        PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
    )
    return subprocess.run(
        [str(python), "-c", RUNNER, str(folder), str(folder.parent)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help=f"default: {', '.join(DEFAULT)}")
    args = parser.parse_args(argv)
    notebooks = args.notebooks or [ROOT / "notebooks" / name for name in DEFAULT]
    with tempfile.TemporaryDirectory(prefix="rvit-colab-") as scratch:
        tmp = Path(scratch)
        print("building a fresh environment with Colab's share of the packages ...", flush=True)
        python = make_environment(tmp / "venv")
        fake_colab(tmp / "colab-site")
        failed = 0
        for notebook in notebooks:
            done = run(python, notebook.resolve(), tmp)
            if done.returncode == 0:
                print(f"{notebook.name:32s} ok: {done.stdout.strip().splitlines()[-1]}")
            else:
                failed += 1
                tail = "\n    ".join((done.stdout + done.stderr).strip().splitlines()[-15:])
                print(f"{notebook.name:32s} FAILED\n    {tail}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
