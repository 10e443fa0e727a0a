"""Plain data to config dataclasses and back, and dotted-path access and replacement."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

import yaml

from simrec.config.base import FieldError, join_path, matches_type, type_name
from simrec.errors import ConfigError, suggest

__all__ = [
    "convert_value",
    "from_dict",
    "get_path",
    "merge_dicts",
    "replace_path",
    "section_with",
    "to_dict",
    "to_yaml",
]

T = TypeVar("T")


def get_path(cfg: Any, dotted: str) -> Any:
    """The value of a dotted config path (``AttributeError`` if it does not exist)."""
    for part in dotted.split("."):
        if isinstance(cfg, Mapping):  # component parameters: user_model.params.<name>
            if part not in cfg:
                raise AttributeError(part)
            cfg = cfg[part]
        else:
            cfg = getattr(cfg, part)
    return cfg


def from_dict(cls: type[T], data: Any, path: str = "") -> T:
    """Build config dataclass ``cls`` from plain data, strictly.

    Args:
        cls: A config dataclass (e.g. :class:`Config`, :class:`ScenarioConfig`).
        data: A mapping (parsed YAML/JSON); ``None`` means all defaults.
        path: Dotted prefix used in error messages.

    Returns:
        The validated, frozen config.

    Raises:
        ConfigError: On an unknown key (with the closest valid key), a wrong type or an
            out-of-range value; the message names the full dotted path and the value.
    """
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or cls.__name__}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        where = join_path(path, str(key))
        if key not in names:
            raise ConfigError(
                f"{where}: unknown key{suggest(str(key), names)}; valid keys: {', '.join(names)}"
            )
        kwargs[key] = convert_value(value, hints[key], where)
    try:
        return cls(**kwargs)
    except FieldError as err:
        raise ConfigError(f"{join_path(path, err.path)}: {err.message}") from None


def convert_value(value: Any, tp: Any, where: str) -> Any:
    """``value`` as annotation ``tp`` wants it (dataclasses built, lists as tuples), checked."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)  # type: ignore[arg-type]
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(tp):
            return None
        for arg in typing.get_args(tp):
            if arg is not type(None) and matches_type(value, arg):
                return convert_value(value, arg, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected {type_name(tp)}, got {value!r}")
        item_tp = typing.get_args(tp)[0]
        return tuple(convert_value(v, item_tp, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not matches_type(value, tp):
        raise ConfigError(f"{where}: expected {type_name(tp)}, got {value!r}")
    return value


def to_dict(cfg: Any) -> dict[str, Any]:
    """Plain-data view of a config (tuples become lists), the inverse of :func:`from_dict`."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            names = [f.name for f in dataclasses.fields(v)]
            lead = [n for n in getattr(v, "LEADING", ()) if n in names]
            return {n: plain(getattr(v, n)) for n in [*lead, *(n for n in names if n not in lead)]}
        if isinstance(v, (list, tuple)):
            return [plain(x) for x in v]
        if isinstance(v, Mapping):
            return {str(k): plain(x) for k, x in v.items()}
        return v

    return plain(cfg)


def to_yaml(cfg: Any) -> str:
    """Serialise a config to YAML text that :func:`load_yaml` reads back to an equal config."""
    return yaml.safe_dump(to_dict(cfg), sort_keys=False, default_flow_style=False)


def merge_dicts(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``over`` merged in, nested mappings merged key by key."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge_dicts(dict(out[key]), value)
        else:
            out[key] = value
    return out


def section_with(cfg: Any, dotted: str, value: Any, allowed: tuple[str, ...] | None) -> Any:
    """The top-level section of ``cfg`` named by ``dotted`` with one field replaced."""
    head, *rest = dotted.split(".")
    names = [f.name for f in dataclasses.fields(cfg)]
    if allowed is not None and head not in allowed:
        raise ConfigError(
            f"{dotted}: only {', '.join(allowed)} parameters can change during a run"
            f"{suggest(head, allowed)}"
        )
    if head not in names:
        raise ConfigError(f"{dotted}: unknown section{suggest(head, names)}")
    section = getattr(cfg, head)
    if not rest:
        return convert_value(value, typing.get_type_hints(type(cfg))[head], head)
    nested: Any = value
    for part in reversed(rest):
        nested = {part: nested}
    return from_dict(type(section), merge_dicts(to_dict(section), nested), path=head)


def replace_path(cfg: T, dotted: str, value: Any, allowed: tuple[str, ...] | None = None) -> T:
    """Return a copy of ``cfg`` with the field at a dotted path replaced, validated.

    Args:
        cfg: A config dataclass instance.
        dotted: Path such as ``"dynamics.appeal_weight"``.
        value: New value (checked like a YAML value).
        allowed: If given, the top-level sections that may be changed.

    Raises:
        ConfigError: Unknown path (with suggestion), wrong type or out-of-range value.

    >>> from simrec.config import Config
    >>> replace_path(Config(), "dynamics.appeal_weight", 0).dynamics.appeal_weight
    0.0
    """
    head = dotted.split(".")[0]
    changed: Any = dataclasses.replace(
        typing.cast(Any, cfg), **{head: section_with(cfg, dotted, value, allowed)}
    )
    return typing.cast(T, changed)
