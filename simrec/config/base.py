"""The field machinery every config dataclass shares: declared fields, type and bound checks.

:func:`param` declares a field with its documentation, unit and bounds; :class:`Base`
checks every field's type and bounds on construction; :class:`FieldError` is the
:class:`~simrec.errors.ConfigError` that knows the (relative) dotted path it is about.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from simrec.errors import ConfigError

__all__ = [
    "INF",
    "INT_MAX",
    "MAX_DAYS",
    "PLAIN_NAME",
    "Base",
    "FieldError",
    "bounds_text",
    "check_plain_name",
    "check_type",
    "join_path",
    "matches_type",
    "param",
    "type_name",
]

T = TypeVar("T")
INF = math.inf
#: Largest integer a config field accepts unless its own bound says otherwise (int32: every
#: count, size and index in the engine fits its arrays).
INT_MAX = 2**31 - 1
#: Longest horizon a run accepts (ten years).
MAX_DAYS = 3650


def param(
    default: Any,
    doc: str,
    unit: str = "",
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    allow_inf: bool = False,
) -> Any:
    """Declare a config field with its documentation, unit and bounds.

    Every number must be finite (NaN is always refused; ``inf`` only where ``allow_inf``
    says so and the doc explains what it means), and every integer at most
    :data:`INT_MAX` unless ``le`` or ``lt`` bounds it.

    Args:
        default: Default value (immutable).
        doc: One-line meaning of the parameter.
        unit: Unit of the value (``"days"``, ``"currency"``, ``"utility"``, ...).
        ge: Inclusive lower bound.
        gt: Exclusive lower bound.
        le: Inclusive upper bound.
        lt: Exclusive upper bound.
        allow_inf: Whether ``+inf`` is a meaningful value of this field.

    Returns:
        A :func:`dataclasses.field` carrying the metadata.
    """
    meta = {
        "doc": doc,
        "unit": unit,
        "ge": ge,
        "gt": gt,
        "le": le,
        "lt": lt,
        "allow_inf": allow_inf,
    }
    if isinstance(default, type):
        return field(default_factory=default, metadata=meta)
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=meta)
    return field(default=default, metadata=meta)


def bounds_text(meta: Mapping[str, Any]) -> str:
    """The bounds of a field's metadata as text: ``>= 0.0 and <= 1.0`` (``(or inf)``)."""
    parts = []
    for key, sym in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if meta.get(key) is not None:
            parts.append(f"{sym} {meta[key]}")
    text = " and ".join(parts)
    return f"{text} (or inf)" if meta.get("allow_inf") else text


class FieldError(ConfigError):
    """A ConfigError that knows which (relative) field path it is about."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.message = message


def join_path(prefix: str, name: str) -> str:
    """``prefix.name`` (``name`` alone without a prefix)."""
    return f"{prefix}.{name}" if prefix else name


#: A name that becomes a file or folder name: letters, digits, ``.``, ``_``, ``+``, ``-``,
#: starting with a letter or digit, at most 100 characters.
PLAIN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}")


def check_plain_name(field_name: str, value: str) -> None:
    """Refuse a name that is not a plain file name (no separators, no ``..``, no spaces).

    >>> check_plain_name("label", "mf-32")
    >>> check_plain_name("label", "../x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    simrec.config.base.FieldError: label: expected a plain name (letters, digits, ...), got '../x'
    """
    if not PLAIN_NAME.fullmatch(value) or ".." in value:
        raise FieldError(
            field_name,
            "expected a plain name (letters, digits, '.', '_', '+', '-'; starting with a "
            f"letter or digit; at most 100 characters), got {value!r}",
        )


@dataclass(frozen=True)
class Base:
    """Shared validation: types and bounds of every field, checked on construction."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            check_type(f.name, value, hints[f.name])
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                check_bounds(f.name, value, f.metadata)


def check_bounds(name: str, value: float, meta: Mapping[str, Any]) -> None:
    unit = f" {meta['unit']}" if meta.get("unit") else ""
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value) or value < 0 or not meta.get("allow_inf"):
            bounds = bounds_text(meta)
            within = f" {bounds}" if bounds else ""
            raise FieldError(name, f"expected a finite number{within}{unit}, got {value!r}")
    if isinstance(value, int) and meta.get("le") is None and meta.get("lt") is None:
        if value > INT_MAX:
            raise FieldError(name, f"expected an integer <= {INT_MAX:,}, got {value!r}")
    unbounded = value == math.inf  # allowed here (checked above): only lower bounds apply
    bad = (
        (meta.get("ge") is not None and not value >= meta["ge"])
        or (meta.get("gt") is not None and not value > meta["gt"])
        or (not unbounded and meta.get("le") is not None and not value <= meta["le"])
        or (not unbounded and meta.get("lt") is not None and not value < meta["lt"])
    )
    if bad:
        raise FieldError(name, f"expected a value {bounds_text(meta)}{unit}, got {value!r}")


def type_name(tp: Any) -> str:
    """A type annotation as the text of an error: ``a number``, ``one of 'a', 'b'``."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in typing.get_args(tp))
    if origin is tuple:
        return f"a list of {type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "a mapping"
    if tp is type(None):
        return "null"
    if dataclasses.is_dataclass(tp):
        return f"a mapping ({getattr(tp, '__name__', tp)})"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def check_type(name: str, value: Any, tp: Any) -> None:
    """Refuse ``value`` if it does not match the annotation ``tp`` (naming field ``name``)."""
    if not matches_type(value, tp):
        raise FieldError(name, f"expected {type_name(tp)}, got {value!r}")


def matches_type(value: Any, tp: Any) -> bool:
    """Whether ``value`` matches the annotation ``tp`` (a float field takes an int)."""
    origin = typing.get_origin(tp)
    if tp is Any:
        return True
    if origin is Literal:
        return value in typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(matches_type(value, a) for a in typing.get_args(tp))
    if origin is tuple:
        (item_tp, *_rest) = typing.get_args(tp)
        return isinstance(value, tuple) and all(matches_type(v, item_tp) for v in value)
    if origin is dict:
        return isinstance(value, Mapping)
    if tp is type(None):
        return value is None
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, tp)
