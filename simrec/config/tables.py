"""The markdown parameter tables of the config dataclasses (docs/model.md section 8)."""

from __future__ import annotations

import dataclasses
import typing

from simrec.config.base import bounds_text, join_path
from simrec.config.scenario import ScenarioConfig

__all__ = ["config_sections", "markdown_tables", "params_markdown"]


def config_sections(cls: type = ScenarioConfig, prefix: str = "") -> list[tuple[str, type]]:
    """``(dotted path, dataclass)`` of every section under ``cls``, walking its field types.

    >>> [path for path, _ in config_sections()][:3]
    ['world', 'world.items', 'world.users']
    """
    out: list[tuple[str, type]] = [(prefix, cls)] if prefix else []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            out += config_sections(hints[f.name], join_path(prefix, f.name))
    return out


def markdown_tables() -> str:
    """Markdown parameter tables (name, default, unit, meaning) of every section of a scenario.

    The sections are found by walking the dataclass tree from :class:`ScenarioConfig`, so a
    new section is documented without being listed anywhere.
    """
    return "\n".join(params_markdown(cls, title) for title, cls in config_sections())


def params_markdown(cls: type, title: str) -> str:
    """The markdown parameter table of one config dataclass (a section, a component's Params).

    >>> from simrec.config import SocialConfig
    >>> print(params_markdown(SocialConfig, "world.social").splitlines()[0])
    ### `world.social`
    """
    out = [f"### `{title}`\n\n| parameter | default | unit | meaning |\n|---|---|---|---|"]
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(
            f.default_factory if f.default_factory is not dataclasses.MISSING else None
        ):
            continue
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory() or "—"
        else:
            default = "—"
        bounds = bounds_text(f.metadata)
        doc = f.metadata.get("doc", "") + (f" ({bounds})" if bounds else "")
        out.append(f"| `{f.name}` | {default} | {f.metadata.get('unit', '')} | {doc} |")
    out.append("")
    return "\n".join(out)
