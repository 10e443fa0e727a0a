"""Reading scenario YAML safely: bounded size, depth and expansion; no duplicate keys."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, overload

import yaml

from simrec.config.convert import from_dict
from simrec.config.model import COMPONENT_TARGET
from simrec.config.scenario import ScenarioConfig
from simrec.errors import ConfigError

__all__ = [
    "MAX_YAML_BYTES",
    "MAX_YAML_DEPTH",
    "MAX_YAML_NODES",
    "load_yaml",
    "parse_yaml",
    "read_text_file",
]

T = TypeVar("T")


#: Largest scenario file read (bytes); scenarios are a few kilobytes.
MAX_YAML_BYTES = 4 * 2**20
#: Largest number of values a YAML document may expand to, counting every use of an alias
#: (a "billion laughs" document is refused before anything expands it).
MAX_YAML_NODES = 100_000


#: Deepest nesting of collections a YAML document may have (a scenario nests about 6 deep).
MAX_YAML_DEPTH = 100


class _TooDeep(Exception):
    """A collection nested more than :data:`MAX_YAML_DEPTH` deep (at ``mark``)."""

    def __init__(self, mark: Any) -> None:
        super().__init__(mark)
        self.mark = mark


class _StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing nesting past :data:`MAX_YAML_DEPTH` as it composes.

    PyYAML's composer recurses once per level: left alone, a deep document runs into Python's
    recursion limit, slowly. :func:`parse_yaml` adds the duplicate-key and size checks.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index) -> yaml.Node:  # noqa: ANN001 - PyYAML's signature
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _TooDeep(self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _check_nodes(root: yaml.Node, where: str) -> None:
    """Refuse duplicate mapping keys and documents that expand past :data:`MAX_YAML_NODES`."""
    size: dict[int, int] = {}
    on_path: set[int] = set()

    def visit(node: yaml.Node) -> int:
        key = id(node)
        if key in size:
            return size[key]
        if key in on_path:
            raise ConfigError(f"{where}: malformed YAML: an alias refers to itself (recursive)")
        on_path.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            first: dict[str, yaml.Node] = {}
            for k, v in node.value:
                if isinstance(k, yaml.ScalarNode) and k.tag != "tag:yaml.org,2002:merge":
                    if k.value in first:
                        line = first[k.value].start_mark.line + 1
                        raise ConfigError(
                            f"{where}: duplicate key {k.value!r} at line "
                            f"{k.start_mark.line + 1} (first at line {line}); a key may "
                            f"appear once per mapping"
                        )
                    first[k.value] = k
                total += visit(k) + visit(v)
        elif isinstance(node, yaml.SequenceNode):
            total += sum(visit(v) for v in node.value)
        on_path.discard(key)
        if total > MAX_YAML_NODES:
            raise ConfigError(
                f"{where}: the YAML expands to more than {MAX_YAML_NODES:,} values (counting "
                f"every use of an alias); a scenario is far smaller"
            )
        size[key] = total
        return total

    visit(root)


def parse_yaml(text: str, where: str = "<text>") -> Any:
    r"""Parse YAML text strictly: safe types only, no duplicate keys, bounded expansion.

    Args:
        text: The YAML text.
        where: Name of the source in error messages.

    Returns:
        The plain data (``None`` for a document without content).

    Raises:
        ConfigError: Malformed YAML (with line and column), a duplicate key, a document that
            expands past :data:`MAX_YAML_NODES` values or nests too deeply.

    >>> parse_yaml("a: 1\nb: [x, y]")
    {'a': 1, 'b': ['x', 'y']}
    >>> parse_yaml("a: 1\na: 2")
    Traceback (most recent call last):
    ...
    simrec.errors.ConfigError: <text>: duplicate key 'a' at line 2 (first at line 1); ...
    """
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_nodes(node, where)
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{where}: malformed YAML{at}: {problem}") from None
    except _TooDeep as err:
        raise ConfigError(
            f"{where}: malformed YAML at line {err.mark.line + 1}, column {err.mark.column + 1}: "
            f"nested too deeply (more than {MAX_YAML_DEPTH} levels)"
        ) from None
    except RecursionError:
        raise ConfigError(f"{where}: malformed YAML: nested too deeply") from None
    finally:
        loader.dispose()


def read_text_file(path: str | Path, max_bytes: int = MAX_YAML_BYTES) -> str:
    """Read a UTF-8 text file (a byte-order mark is allowed), refusing huge or binary files.

    Raises:
        ConfigError: The file cannot be read, is larger than ``max_bytes``, or is not UTF-8.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as err:
        raise ConfigError(f"{path}: cannot read the file ({err.strerror})") from None
    if len(data) > max_bytes:
        raise ConfigError(f"{path}: larger than {max_bytes:,} bytes; not a scenario file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}); "
            f"save the file as UTF-8"
        ) from None


@overload
def load_yaml(source: str | Path) -> ScenarioConfig: ...
@overload
def load_yaml(source: str | Path, cls: type[T]) -> T: ...


def load_yaml(source: str | Path, cls: type[Any] = ScenarioConfig) -> Any:
    """Read a YAML file (or YAML text) into config class ``cls``.

    The text is parsed by :func:`parse_yaml` (safe, no duplicate keys, bounded size); an
    empty document is an error, not a config of defaults.

    Args:
        source: A path to a ``.yaml`` file, or YAML text.
        cls: The config dataclass to build (default :class:`ScenarioConfig`).

    Raises:
        ConfigError: The file is missing, empty, not UTF-8 or malformed, or a key/value is
            invalid.
    """
    where = "<text>"
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml"))
    ):
        where = str(source)
        text = read_text_file(source)
    else:
        text = str(source)
    data = parse_yaml(text, where)
    if data is None:
        raise ConfigError(
            f"{where}: the file is empty; expected a mapping of {cls.__name__} keys "
            f"(see the scenarios/ folder for examples)"
        )
    if where != "<text>":
        _import_beside(Path(source), data)
    return from_dict(cls, data)


def _import_beside(path: Path, data: Any) -> None:
    """Let a scenario name components by import target from files beside it.

    When its ``user_model`` names a ``module:Class`` target, the scenario's folder joins the
    end of ``sys.path`` (after everything installed, so it shadows nothing); worker
    processes started from here inherit it.
    """
    section = data.get("user_model") if isinstance(data, Mapping) else None
    if not isinstance(section, Mapping):
        return
    names = [v for k, v in section.items() if k != "params" and isinstance(v, str)]
    added = section.get("add")
    names += [v for v in added if isinstance(v, str)] if isinstance(added, list) else []
    if any(COMPONENT_TARGET.fullmatch(n) for n in names):
        folder = str(path.resolve().parent)
        if folder not in sys.path:
            sys.path.append(folder)
