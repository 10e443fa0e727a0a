"""Execute the analysis notebooks and save copies with their outputs.

    python notebooks/run.py                          # every notebook, on smoke runs
    SIMREC_QUICKSTART=results/quickstart python notebooks/run.py notebooks/01_quickstart.ipynb

Each notebook reads the results folder named by its environment variable
(``SIMREC_QUICKSTART``, ``SIMREC_CLICKBAIT``) and runs a smoke variant when it is unset; the
calibration notebook reads ``SIMREC_CALIBRATION_DAYS`` (default 60).
The executed copies go to ``notebooks/executed/`` (``--out`` to choose); the committed
notebooks stay without outputs. Jupyter itself is not needed: the notebooks run on
``nbclient`` and ``ipykernel`` (the ``dev`` extra); open the copies in any notebook viewer.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    import nbclient
    import nbformat

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook here")
    p.add_argument("--out", type=Path, default=HERE / "executed", help="folder for the copies")
    p.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MPLBACKEND", "Agg")
    for path in args.notebooks or sorted(HERE.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        client = nbclient.NotebookClient(
            nb,
            timeout=args.timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(HERE.parent)}},
        )
        client.execute()
        target = args.out / path.name
        nbformat.write(nb, target)
        print(f"{path.name}: executed -> {target}")


if __name__ == "__main__":
    main()
