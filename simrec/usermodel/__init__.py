"""The user model as composable parts.

A :class:`UserModel` fills each role of :data:`ROLES` with a component
(:class:`~simrec.usermodel.base.Component`), chosen by name in the ``user_model`` section of
the configuration -- built-ins (:data:`BUILTIN`) or components registered by other packages
under the entry-point group ``simrec.components`` -- or passed as instances from Python::

    Simulation(config, components={"retention": MyRetention()})

The model checks the components' declarations when it is built: every state variable a
component ``uses`` is owned by another (or by the engine: :data:`~simrec.usermodel.base.
BASE_STATE`), and every request signal it ``reads`` is one of the engine's
(:data:`~simrec.usermodel.base.BASE_SIGNALS`) or written by a component that runs earlier.
How to write a component: ``docs/model.md``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from simrec.config import (
    COMPONENT_TARGET,
    Config,
    Params,
    UserModelConfig,
    check_plain_name,
    set_params_resolver,
)
from simrec.errors import ConfigError, suggest
from simrec.plugins import group_entry_points
from simrec.usermodel.base import (
    BASE_SIGNALS,
    BASE_STATE,
    OUTPUT_SIGNALS,
    Clicks,
    Component,
    Items,
    Request,
    RetentionComponent,
)
from simrec.usermodel.components import (
    CascadeChoice,
    ChoiceComponent,
    Drift,
    Engagement,
    Fatigue,
    Memory,
    MNLChoice,
    PositionBasedChoice,
    Purchase,
    Retention,
    Satisfaction,
    SessionExit,
)
from simrec.usermodel.evidence import EvidenceSatisfaction, FrailtyRetention
from simrec.usermodel.population import Population, StateVar
from simrec.usermodel.terms import UtilityInputs, UtilityTerm

__all__ = [
    "BASE_SIGNALS",
    "BASE_STATE",
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "ROLES",
    "Clicks",
    "Component",
    "Items",
    "Population",
    "Request",
    "RetentionComponent",
    "StateVar",
    "UserModel",
    "UtilityInputs",
    "UtilityTerm",
    "available_components",
    "component_classes",
    "register_component",
]

#: The roles, in the order a request runs through them (``retention`` runs at session ends).
ROLES = (
    "choice",
    "engagement",
    "purchase",
    "drift",
    "satisfaction",
    "memory",
    "fatigue",
    "session_exit",
    "retention",
)
#: Entry-point group of third-party components: ``name = "module:Class"`` (the class's
#: ``role`` says which role it fills).
ENTRY_POINT_GROUP = "simrec.components"
#: Built-in components by role and name.
BUILTIN: dict[str, dict[str, type[Component]]] = {
    "choice": {"mnl": MNLChoice, "cascade": CascadeChoice, "pbm": PositionBasedChoice},
    "engagement": {"default": Engagement},
    "purchase": {"default": Purchase},
    "drift": {"default": Drift},
    "satisfaction": {"default": Satisfaction, "evidence": EvidenceSatisfaction},
    "memory": {"default": Memory},
    "fatigue": {"default": Fatigue},
    "session_exit": {"default": SessionExit},
    "retention": {"default": Retention, "frailty": FrailtyRetention},
}


#: Components registered from Python with :func:`register_component`, by name.
_REGISTERED: dict[str, type[Component]] = {}


def register_component(cls: type[Component], name: str | None = None) -> type[Component]:
    """Make ``cls`` available by ``name`` (default: its ``name`` attribute) in this process.

    Usable as a decorator. Runs in worker processes (``workers > 1``) start fresh: there,
    name the component by its import target ``package.module:Class`` or register it under
    the entry-point group instead.
    """
    key = name or cls.name
    check_plain_name("component name", key)
    _check_class(cls, f"{cls.__module__}:{cls.__name__}", key)
    _REGISTERED[key] = cls
    return cls


def available_components() -> dict[str, dict[str, str]]:
    """Role -> name -> ``"module:Class"`` of every built-in and registered component.

    Components that fill no role (added ones, e.g. utility terms) are listed under
    ``"added"``.
    """
    found = {
        role: {name: f"{cls.__module__}:{cls.__name__}" for name, cls in named.items()}
        for role, named in BUILTIN.items()
    }
    for name, cls in _REGISTERED.items():
        role = cls.role if cls.role in ROLES else "added"
        found.setdefault(role, {}).setdefault(name, f"{cls.__module__}:{cls.__name__}")
    for ep in group_entry_points(ENTRY_POINT_GROUP):
        cls = _load(ep.value, ep.name)
        role = cls.role if cls.role in ROLES else "added"
        found.setdefault(role, {}).setdefault(ep.name, ep.value)
    return found


def _check_class(cls: Any, target: str, name: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Component)):
        raise ConfigError(
            f"user_model: {target} ({name!r}) is not a simrec component (a Component subclass)"
        )
    if cls.Params is not None and not (
        isinstance(cls.Params, type) and issubclass(cls.Params, Params)
    ):
        raise ConfigError(f"user_model: {target}.Params is not a simrec.config.Params dataclass")


def _load(target: str, name: str) -> type[Component]:
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as err:
        raise ConfigError(
            f"user_model: component {name!r} ({target}) cannot be loaded: {err}"
        ) from err
    _check_class(cls, target, name)
    return cls


def _find(name: str) -> type[Component] | None:
    """The class of a component given by name or target (``None``: a built-in role name)."""
    if COMPONENT_TARGET.fullmatch(name):
        return _load(name, name)
    if name in _REGISTERED:
        return _REGISTERED[name]
    for ep in (e for e in group_entry_points(ENTRY_POINT_GROUP) if e.name == name):
        return _load(ep.value, name)
    return None


def _role_class(role: str, name: str) -> type[Component]:
    cls = BUILTIN[role].get(name) or _find(name)
    if cls is None:
        known = list(BUILTIN[role])
        raise ConfigError(
            f"user_model.{role}: unknown component {name!r}{suggest(name, known)}; built-in: "
            f"{', '.join(known)} (or an import target 'package.module:Class', a name "
            f"registered with register_component or under the entry-point group "
            f"{ENTRY_POINT_GROUP!r})"
        )
    if cls.role != role:
        raise ConfigError(
            f"user_model.{role}: component {name!r} fills the role {cls.role!r}, not {role!r}"
        )
    return cls


def _added_class(index: int, name: str) -> tuple[str, type[Component]]:
    """``(key, class)`` of ``user_model.add[index]``: the key names its parameters."""
    cls = _find(name)
    if cls is None:
        known = sorted(_REGISTERED)
        raise ConfigError(
            f"user_model.add[{index}]: unknown component {name!r}{suggest(name, known)}; "
            f"expected an import target 'package.module:Class', a name registered with "
            f"register_component or under the entry-point group {ENTRY_POINT_GROUP!r}"
        )
    if cls.role in ROLES:
        raise ConfigError(
            f"user_model.add[{index}]: {name!r} fills the role {cls.role!r}; set "
            f"user_model.{cls.role} instead of adding it"
        )
    key = (cls.name or cls.__name__.lower()) if COMPONENT_TARGET.fullmatch(name) else name
    return key, cls


def _params_classes(chosen: UserModelConfig) -> dict[str, type[Params] | None]:
    """Role or added key -> the Params class of its component (the config's resolver)."""
    out: dict[str, type[Params] | None] = {
        role: _role_class(role, getattr(chosen, role)).Params for role in ROLES
    }
    for i, name in enumerate(chosen.add):
        key, cls = _added_class(i, name)
        if key in out:
            raise ConfigError(
                f"user_model.add[{i}]: {name!r} is keyed {key!r}, which is already a role or "
                f"an added component's"
            )
        out[key] = cls.Params
    return out


set_params_resolver(_params_classes)


def component_classes(chosen: UserModelConfig) -> dict[str, type[Component]]:
    """Role or added key -> the class of the component a user-model config chooses.

    Raises:
        ConfigError: An unknown component name (as when the model is built).
    """
    out = {role: _role_class(role, getattr(chosen, role)) for role in ROLES}
    out |= dict(_added_class(i, name) for i, name in enumerate(chosen.add))
    return out


def _where(comp: Component) -> str:
    """The config path of a component in messages."""
    return f"user_model.{comp.key}" if comp.key in ROLES else f"user_model.add ({comp.key})"


def _overriding(components: list[Component], hook: str) -> list[Any]:
    """The bound ``hook`` methods of the components that override the base class's no-op."""
    base = getattr(Component, hook)
    return [getattr(c, hook) for c in components if getattr(type(c), hook) is not base]


class UserModel:
    """An ordered composition of components, one per role (see the module docstring).

    Args:
        config: The run configuration; ``config.user_model`` names the components.
        dims: Sizes: ``N`` users, ``M`` items, ``d``, ``G`` genres, ``L`` recent items.
        components: Instances that replace the configured component of their role.

    Raises:
        ConfigError: An unknown name, an instance of the wrong role, or declarations that do
            not fit together (a state variable or signal nobody provides).
    """

    def __init__(
        self,
        config: Config,
        dims: Mapping[str, int],
        components: Mapping[str, Component] | None = None,
    ) -> None:
        """Build the components and check that their declarations fit together."""
        given = dict(components or {})
        for role, comp in given.items():
            if role not in ROLES:
                raise ConfigError(
                    f"components: unknown role {role!r}{suggest(role, ROLES)}; roles: "
                    f"{', '.join(ROLES)}"
                )
            if not isinstance(comp, Component) or comp.role != role:
                raise ConfigError(
                    f"components.{role}: expected a Component instance with role {role!r}, "
                    f"got {comp!r}"
                )
        chosen: UserModelConfig = config.user_model
        roles = [given.get(role) or _role_class(role, getattr(chosen, role))() for role in ROLES]
        for role, comp in zip(ROLES, roles, strict=True):
            comp.key = role
        self.by_role = dict(zip(ROLES, roles, strict=True))
        if not isinstance(self.retention, RetentionComponent):
            raise ConfigError("components.retention: expected a RetentionComponent")
        #: The added components, by key (``user_model.add``).
        self.added: dict[str, Component] = {}
        for i, name in enumerate(chosen.add):
            key, cls = _added_class(i, name)
            self.added[key] = comp = cls()
            comp.key = key
        # Added components run after the roles up to fatigue, before the session exit.
        cut = ROLES.index("session_exit")
        self.components = [*roles[:cut], *self.added.values(), *roles[cut:]]
        terms = [c for c in self.added.values() if isinstance(c, UtilityTerm)]
        if terms and not isinstance(self.choice, ChoiceComponent):
            raise ConfigError(
                f"user_model.add: utility terms {[t.key for t in terms]} need a choice model "
                f"that sums terms (a ChoiceComponent); got {type(self.choice).__name__}"
            )
        if isinstance(self.choice, ChoiceComponent):
            self.choice.added_terms = terms
        self.dims = dict(dims)
        self.variables = [*BASE_STATE]
        for comp in self.components:
            self.variables += comp.state_vars(self.dims)
        self._check_declarations()
        #: The request-keyed purposes the components draw, hashed together per chunk.
        self.draws = tuple(dict.fromkeys(p for comp in self.components for p in comp.draws))
        # The hooks each component overrides (the base class's are no-ops: not called).
        self._prepare = _overriding(self.components, "prepare")
        self._respond = _overriding(self.components[: cut + len(self.added)], "respond")
        self._session_start = _overriding(self.components, "on_session_start")
        self.bind(config)

    @property
    def choice(self) -> ChoiceComponent:
        """The choice component."""
        return self.by_role["choice"]  # type: ignore[return-value]

    @property
    def satisfaction(self) -> Satisfaction:
        """The satisfaction component (its ``value`` is what oracles rank by)."""
        return self.by_role["satisfaction"]  # type: ignore[return-value]

    @property
    def retention(self) -> RetentionComponent:
        """The retention component."""
        return self.by_role["retention"]  # type: ignore[return-value]

    def _check_declarations(self) -> None:
        owned = {v.name for v in self.variables}
        for comp in self.components:
            missing = [v for v in comp.uses if v not in owned]
            if missing:
                raise ConfigError(
                    f"{_where(comp)}: {type(comp).__name__} uses state {missing} that "
                    f"no component declares"
                )
        # Every prepare() runs before any respond(): what prepare() sets is there for all.
        available = set(BASE_SIGNALS) | OUTPUT_SIGNALS
        for comp in self.components:
            available |= set(comp.prepares)
        for comp in self.components:
            missing = [x for x in comp.reads if x not in available]
            if missing:
                raise ConfigError(
                    f"{_where(comp)}: {type(comp).__name__} reads {missing}, which no "
                    f"earlier component writes"
                )
            available |= set(comp.writes)

    def bind(self, config: Config) -> None:
        """Give every component the (new) configuration."""
        self.config = config
        for comp in self.components:
            comp.bind(config)

    def population(self, n: int) -> Population:
        """A population of ``n`` users with every declared state variable."""
        return Population(n, {**self.dims, "N": n}, self.variables)

    def init_users(self, pop: Population, users: Any, truth: Any) -> None:
        """Initial state of ``users`` from their hidden truth (``UserTruth`` rows)."""
        for comp in self.components:
            comp.init_users(pop, users, truth)

    def serve(self, r: Request) -> None:
        """Run a chunk of requests through every component, up to the session counters."""
        for prepare in self._prepare:
            prepare(r)
        for respond in self._respond:
            respond(r)

    def exit(self, r: Request) -> None:
        """The session-exit component (after the engine counted the request)."""
        self.by_role["session_exit"].respond(r)

    def on_session_start(self, pop: Population, users: Any, now: Any) -> None:
        """Every component's session-start hook."""
        for hook in self._session_start:
            hook(pop, users, now)

    def describe(self) -> dict[str, str]:
        """Role -> the component's class (recorded in results)."""
        return {role: type(c).__name__ for role, c in self.by_role.items()}
