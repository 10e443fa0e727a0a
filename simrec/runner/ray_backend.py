"""Run a sweep's runs as Ray tasks (``simrec run --backend ray``).

Each run is submitted as a task (1 CPU) executing the same function as the local pool, with
the same run specs, so a run gives the same result on either backend. Results come back to
the driver, which writes them (atomically) as they complete: a cluster needs no shared
filesystem. Ray is imported lazily (the ``ray`` extra), the named exception to simrec's
no-heavy-imports rule. ``address=None`` starts a local cluster of ``num_cpus`` CPUs (and
shuts it down afterwards); an address (``"auto"``, ``"ray://host:10001"``) joins a cluster.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from simrec.errors import DependencyNotInstalled

__all__ = ["run_on_ray"]


def run_on_ray(
    execute: Callable[[Any], Any],
    specs: Sequence[Any],
    on_result: Callable[[Any], None],
    *,
    address: str | None = None,
    num_cpus: int | None = None,
) -> None:
    """Execute ``specs`` as Ray tasks and hand each result to ``on_result`` as it completes."""
    try:
        import ray
    except ImportError as err:
        raise DependencyNotInstalled(
            "--backend ray needs Ray; install it with pip install 'simrec[ray]'"
        ) from err
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started = False
    if not ray.is_initialized():
        kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
        if address is None:
            kwargs["num_cpus"] = num_cpus
        ray.init(address=address, **kwargs)
        started = True
    try:
        task = ray.remote(num_cpus=1)(execute)
        pending = [task.remote(spec) for spec in specs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            on_result(ray.get(done[0]))
    finally:
        if started:
            ray.shutdown()
