"""The plug-in groups are read once per state of the import path."""

from __future__ import annotations

from conftest import fake_distribution

import simrec.plugins as plugins
from simrec.agent import available_agents


def test_a_group_is_read_once_until_the_import_path_changes(tmp_path, monkeypatch) -> None:
    reads = []
    real = plugins.entry_points

    def counting(group):
        reads.append(group)
        return real(group=group)

    monkeypatch.setattr(plugins, "entry_points", counting)
    monkeypatch.setattr(plugins, "_CACHE", {})
    first = plugins.group_entry_points("simrec.agents")
    assert plugins.group_entry_points("simrec.agents") is first
    assert reads == ["simrec.agents"]

    # a folder added to the path: read again; a distribution installed into it: read again
    monkeypatch.syspath_prepend(str(tmp_path))
    assert plugins.group_entry_points("simrec.agents") == first
    assert len(reads) == 2
    fake_distribution(
        tmp_path,
        "late_plugin",
        "from simrec_agents.baselines import RandomAgent as Late\n",
        "[simrec.agents]\nlate-random = late_plugin:Late\n",
    )
    assert "late-random" in available_agents()
    assert len(reads) == 3
    monkeypatch.undo()
    assert "late-random" not in available_agents()
