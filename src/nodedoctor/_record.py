"""Frozen value classes at a fraction of ``@dataclass(frozen=True)``'s start-up cost.

``@record`` gives a class what ``@dataclass(frozen=True)`` gives the code here: an
``__init__`` taking the fields in order (positional or keyword) with defaults and default
factories, fields inherited from record bases first, ``ClassVar`` annotations skipped,
``__eq__`` (same class, same field values) with a consistent ``__hash__``, a dataclass-like
``__repr__``, ``__post_init__``, immutability, and :func:`replace`.

Why not dataclasses: a frozen dataclass generates and compiles five methods with ``exec`` when
its class is created (~0.5-0.85 ms each; a check creates ~95 of them before it reads a file).
Here ``__eq__``, ``__hash__``, ``__repr__`` and ``__setattr__`` are shared functions driven by
the class's field names, and ``__init__``, written out as dataclasses write it, is compiled
once the class has made a few instances (most classes of a run make a few or none, and bind
their arguments by the field list until then).

Every frozen value class of nodedoctor is a record; the few mutable working objects of fix
(its workspace, a journal entry, an apply's result) are plain dataclasses, off the check path.

>>> @record
... class Point:
...     x: int
...     y: int = 0
>>> p = Point(1)
>>> p, p == Point(1, 0), replace(p, y=2)
(Point(x=1, y=0), True, Point(x=1, y=2))
>>> p.x = 3
Traceback (most recent call last):
...
nodedoctor._record.FrozenInstanceError: cannot assign to field 'x'
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import TYPE_CHECKING, Any, TypeVar, overload

if TYPE_CHECKING:
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_kwargs: object) -> Callable[[T], T]:
        return lambda decorated: decorated


T = TypeVar("T")
C = TypeVar("C", bound=type)


class FrozenInstanceError(AttributeError):
    """Raised on assigning to or deleting an attribute of a record (as dataclasses' is)."""


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()


class Field:
    """A field's default or default factory, as given to :func:`field` in a class body."""

    __slots__ = ("default", "default_factory")

    def __init__(self, default: Any, default_factory: Any) -> None:
        self.default = default
        self.default_factory = default_factory


@overload
def field(*, default: T) -> T: ...


@overload
def field(*, default_factory: Callable[[], T]) -> T: ...


def field(*, default: Any = MISSING, default_factory: Any = MISSING) -> Any:
    """A field's default (``default=``) or a callable that makes one per instance."""
    if default is not MISSING and default_factory is not MISSING:
        raise ValueError("cannot specify both default and default_factory")
    return Field(default, default_factory)


def _is_classvar(annotation: object) -> bool:
    if isinstance(annotation, str):
        text = annotation.strip()
        return any(
            text == name or text.startswith(f"{name}[")
            for name in ("ClassVar", "typing.ClassVar", "t.ClassVar")
        )
    import typing  # annotations are strings here (PEP 563); this is for a module without it

    return annotation is typing.ClassVar or getattr(annotation, "__origin__", None) is (
        typing.ClassVar
    )


def _own_annotations(cls: type) -> dict[str, object]:
    # Not inspect.get_annotations (inspect is a costly import) nor typing_extensions (absent
    # on a bare node); the class's own dict holds exactly its own annotations.
    annotations = cls.__dict__.get("__annotations__")  # noqa: RUF063
    if annotations is None and "__annotate__" in cls.__dict__:  # Python 3.14: lazy
        annotations = cls.__annotations__
    return annotations or {}


def _record_eq(self: Any, other: Any) -> Any:
    if other.__class__ is self.__class__:
        key = self.__record_key__
        return key(self) == key(other)
    return NotImplemented


def _record_hash(self: Any) -> int:
    return hash(self.__record_key__(self))


def _record_repr(self: Any) -> str:
    values = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__record_fields__)
    return f"{self.__class__.__qualname__}({values})"


def _record_setattr(self: Any, name: str, value: Any) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _record_delattr(self: Any, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")


def _record_replace(self: T, /, **changes: Any) -> T:
    return replace(self, **changes)


def _no_fields(_self: object) -> tuple[()]:
    return ()


def _compile_init(cls: type) -> Callable[..., None]:
    """The class's ``__init__``, written out with its field names and compiled, as
    ``dataclasses`` does; the generated code's own names start with ``__nd_`` so that no
    field shadows them."""
    specs: dict[str, Any] = cls.__record_specs__  # type: ignore[attr-defined]
    scope: dict[str, Any] = {"__nd_missing": MISSING, "__nd_set": object.__setattr__}
    params = ["__nd_self"]
    body = []
    for name, spec in specs.items():
        value = name
        if spec is MISSING:
            params.append(name)
        elif isinstance(spec, Field):  # a default factory, called for each instance
            params.append(f"{name}=__nd_missing")
            scope[f"__nd_factory_{name}"] = spec.default_factory
            value = f"__nd_factory_{name}() if {name} is __nd_missing else {name}"
        else:
            params.append(f"{name}=__nd_default_{name}")
            scope[f"__nd_default_{name}"] = spec
        # object.__setattr__ rather than writes to __dict__: on 3.11+ that keeps the
        # instance's values inline (no dict of their own), smaller and faster to read.
        body.append(f"    __nd_set(__nd_self, {name!r}, {value})")
    if hasattr(cls, "__post_init__"):
        body.append("    __nd_self.__post_init__()")
    source = f"def __init__({', '.join(params)}):\n" + ("\n".join(body) or "    pass") + "\n"
    exec(source, scope)  # noqa: S102 -- generated above from the class's field names
    init: Callable[..., None] = scope["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    return init


#: Instances a class makes through the generic ``__init__`` before its own is compiled.
HOT = 8


def _bind(cls: type, args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[Any]:
    """The field values of ``cls(*args, **kwargs)``, bound as the compiled ``__init__``'s
    signature binds them (the same TypeErrors for missing, extra and repeated arguments)."""
    specs: dict[str, Any] = cls.__record_specs__  # type: ignore[attr-defined]
    names: tuple[str, ...] = cls.__record_fields__  # type: ignore[attr-defined]
    if len(args) > len(names):
        required = sum(1 for name in names if specs[name] is MISSING)
        takes = (
            f"{len(names) + 1}"
            if required == len(names)
            else f"from {required + 1} to {len(names) + 1}"
        )
        raise TypeError(
            f"__init__() takes {takes} positional arguments but {len(args) + 1} were given"
        )
    values = dict(zip(names, args))
    for name, value in kwargs.items():
        if name not in specs:
            raise TypeError(f"__init__() got an unexpected keyword argument {name!r}")
        if name in values:
            raise TypeError(f"__init__() got multiple values for argument {name!r}")
        values[name] = value
    out = []
    for name in names:
        if name in values:
            out.append(values[name])
            continue
        spec = specs[name]
        if spec is MISSING:
            raise TypeError(f"__init__() missing 1 required positional argument: {name!r}")
        out.append(spec.default_factory() if isinstance(spec, Field) else spec)
    return out


def _lazy_init(cls: type) -> Callable[..., None]:
    """A generic ``__init__`` that binds the arguments by the field list; once the class has
    made ``HOT`` instances its written-out ``__init__`` is compiled and takes over. Most
    classes of a run make a few instances or none: compiling theirs (~0.3 ms each, some 70
    in a check) would cost more than it saves."""
    made = 0
    post_init = hasattr(cls, "__post_init__")

    def init(self: Any, /, *args: Any, **kwargs: Any) -> None:
        nonlocal made
        made += 1
        if made > HOT:
            compiled = _compile_init(cls)
            type.__setattr__(cls, "__init__", compiled)
            compiled(self, *args, **kwargs)
            return
        for name, value in zip(cls.__record_fields__, _bind(cls, args, kwargs)):  # type: ignore[attr-defined]
            object.__setattr__(self, name, value)
        if post_init:
            self.__post_init__()

    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    return init


def _build(cls: C) -> C:
    specs: dict[str, Any] = {}
    for base in reversed(cls.__mro__[1:]):
        base_specs = base.__dict__.get("__record_specs__")
        if base_specs is not None:
            specs.update(base_specs)
    for name, annotation in _own_annotations(cls).items():
        if _is_classvar(annotation):
            continue
        default = cls.__dict__.get(name, MISSING)
        if isinstance(default, Field):
            if default.default_factory is not MISSING:  # no class attribute, as dataclasses
                type.__delattr__(cls, name)
                specs[name] = default
                continue
            default = default.default
            type.__setattr__(cls, name, default)
        if default.__class__.__hash__ is None:  # list, dict, set: shared by every instance
            raise ValueError(
                f"mutable default {type(default)} for field {name} is not allowed:"
                " use default_factory"
            )
        specs[name] = default
    seen_default = False
    for name, spec in specs.items():
        if spec is MISSING and seen_default:
            raise TypeError(f"non-default argument {name!r} follows default argument")
        seen_default = seen_default or spec is not MISSING
    names = tuple(specs)
    own = cls.__dict__
    methods: dict[str, Any] = {
        "__record_specs__": specs,
        "__record_fields__": names,
        "__record_key__": attrgetter(*names) if names else staticmethod(_no_fields),
        "__match_args__": names,
        "__setattr__": _record_setattr,
        "__delattr__": _record_delattr,
        "__replace__": _record_replace,
    }
    if "__init__" not in own:
        methods["__init__"] = _lazy_init(cls)
    if "__repr__" not in own:
        methods["__repr__"] = _record_repr
    if "__eq__" not in own:
        methods["__eq__"] = _record_eq
    # As dataclasses: a __hash__ written in the class stays; a class body that defines
    # __eq__ alone gets __hash__ = None from Python, and the generated hash replaces it.
    if "__hash__" not in own or (own["__hash__"] is None and "__eq__" in own):
        methods["__hash__"] = _record_hash
    for name in ("__setattr__", "__delattr__"):
        if name in own:
            raise TypeError(f"cannot overwrite attribute {name} in record {cls.__name__}")
    for name, value in methods.items():
        type.__setattr__(cls, name, value)
    return cls


@dataclass_transform(frozen_default=True, field_specifiers=(field,))
def record(cls: C) -> C:
    """Make ``cls`` a frozen record of its annotated fields (see the module's docstring)."""
    return _build(cls)


def replace(obj: T, /, **changes: Any) -> T:
    """A copy of the record ``obj`` with ``changes`` (field names) applied; ``__post_init__``
    runs again, as with ``dataclasses.replace``."""
    names = getattr(obj.__class__, "__record_fields__", None)
    if names is None:
        raise TypeError("replace() should be called on record instances")
    values = {name: getattr(obj, name) for name in names}
    values.update(changes)
    return obj.__class__(**values)
