"""The markdown parameter tables of the config dataclasses (docs/model.md section 8)."""

from __future__ import annotations

import dataclasses

from simrec.config.base import bounds_text
from simrec.config.model import DynamicsConfig, EconomyConfig, RetentionConfig, UserModelConfig
from simrec.config.run import SimulationConfig
from simrec.config.scenario import ABConfig, OPEConfig
from simrec.config.world import (
    ItemsConfig,
    MovieLensConfig,
    SocialConfig,
    UsersConfig,
    WorldConfig,
)

__all__ = ["markdown_tables", "params_markdown"]


def markdown_tables() -> str:
    """Markdown parameter tables (name, default, unit, meaning) of every config section."""
    sections = [
        ("world", WorldConfig),
        ("world.items", ItemsConfig),
        ("world.users", UsersConfig),
        ("world.movielens", MovieLensConfig),
        ("world.social", SocialConfig),
        ("user_model", UserModelConfig),
        ("dynamics", DynamicsConfig),
        ("retention", RetentionConfig),
        ("economy", EconomyConfig),
        ("simulation", SimulationConfig),
        ("ab", ABConfig),
        ("ope", OPEConfig),
    ]
    return "\n".join(params_markdown(cls, title) for title, cls in sections)


def params_markdown(cls: type, title: str) -> str:
    """The markdown parameter table of one config dataclass (a section, a component's Params).

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
