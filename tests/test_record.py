"""``nodedoctor._record``: the frozen value classes behave as ``@dataclass(frozen=True)`` does
for everything the code base uses (and the same operations are run on both here)."""

from __future__ import annotations

import copy
import dataclasses
import inspect
import pickle
from typing import Any, ClassVar, Generic, TypeVar

import pytest

from nodedoctor import _record
from nodedoctor._record import FrozenInstanceError, field, record, replace

T = TypeVar("T")


@record
class Evidence:
    source: str
    text: str
    line: int | None = None


@record
class Hint:
    summary: str
    files: tuple[str, ...] = field(default=())
    extra: dict[str, int] = field(default_factory=dict)
    SCHEMA: ClassVar[str] = "x/v1"
    UNANNOTATED = "not a field"


@record
class Base:
    a: int
    b: str = "b"


@record
class Child(Base):
    c: float = 1.5
    b: str = "child"  # a redefined field keeps its place, with the new default


@record
class Weighed:
    words: tuple[int, ...]
    weight: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "weight", sum(self.words))


@record
class Boxed(Generic[T]):
    value: T
    evidence: Evidence


class PlainChild(Evidence):
    """Not a record itself: inherits everything."""


def test_positional_keyword_and_default_arguments() -> None:
    e = Evidence("/proc/cmdline", "quiet")
    assert (e.source, e.text, e.line) == ("/proc/cmdline", "quiet", None)
    assert Evidence("/a", "t", 3).line == 3
    assert Evidence(text="t", line=4, source="/a") == Evidence("/a", "t", 4)
    assert Evidence("/a", text="t") == Evidence("/a", "t", None)


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ((), {}),
        (("/a",), {}),
        (("/a", "t", 1, 2), {}),
        (("/a", "t"), {"nope": 1}),
        (("/a", "t"), {"source": "/b"}),
    ],
)
def test_wrong_arguments_raise_type_error(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    with pytest.raises(TypeError):
        Evidence(*args, **kwargs)


def test_field_default_and_default_factory() -> None:
    h1, h2 = Hint("s"), Hint("s")
    assert h1.files == ()
    assert h1.extra == {}
    assert h1.extra is not h2.extra  # a fresh value per instance
    given = {"x": 1}
    assert Hint("s", ("f",), given).extra is given
    # As dataclasses: field(default=...) leaves the default as the class attribute, a
    # default factory leaves none.
    assert Hint.files == ()
    assert "extra" not in Hint.__dict__


def test_class_variables_and_unannotated_attributes_are_not_fields() -> None:
    assert Hint.__record_fields__ == ("summary", "files", "extra")  # type: ignore[attr-defined]
    assert Hint("s").SCHEMA == "x/v1"
    assert "SCHEMA" not in repr(Hint("s"))
    with pytest.raises(TypeError):
        Hint("s", (), {}, "schema")  # type: ignore[call-arg]


def test_only_class_var_annotations_are_class_variables() -> None:
    namespace = {
        "__annotations__": {"a": "ClassVariant", "b": " ClassVar[int] ", "c": "typing.ClassVar"}
    }
    cls: Any = record(type("Strings", (), namespace))
    assert cls.__record_fields__ == ("a",)


def test_class_var_as_a_typing_object_is_skipped_too() -> None:
    """A module without ``from __future__ import annotations`` has real annotations."""
    namespace = {"__annotations__": {"x": int, "K": ClassVar[int], "L": ClassVar}, "K": 1}
    cls: Any = record(type("Real", (), namespace))
    assert cls.__record_fields__ == ("x",)
    assert cls(2).x == 2


def test_inherited_fields_come_first() -> None:
    c = Child(1)
    assert (c.a, c.b, c.c) == (1, "child", 1.5)
    assert Child(1, "x", 2.0) == Child(a=1, b="x", c=2.0)
    assert Child.__record_fields__ == ("a", "b", "c")  # type: ignore[attr-defined]
    assert repr(c) == "Child(a=1, b='child', c=1.5)"
    assert Base(1).b == "b"


def test_equality_is_same_class_and_same_values() -> None:
    assert Evidence("/a", "t") == Evidence("/a", "t")
    assert Evidence("/a", "t") != Evidence("/a", "u")
    assert Evidence("/a", "t") != ("/a", "t", None)  # type: ignore[comparison-overlap]
    assert Base(1, "child") != Child(1, "child")  # a subclass is another class
    assert PlainChild("/a", "t") != Evidence("/a", "t")
    assert PlainChild("/a", "t") == PlainChild("/a", "t")
    assert Evidence("/a", "t").__eq__(object()) is NotImplemented


def test_hash_is_consistent_with_equality() -> None:
    a, b = Evidence("/a", "t", 1), Evidence("/a", "t", 1)
    assert hash(a) == hash(b)
    assert len({a, b, Evidence("/a", "t", 2)}) == 2
    assert {a: 1}[b] == 1
    with pytest.raises(TypeError):
        hash(Hint("s"))  # a dict field is unhashable, as with a dataclass


def test_repr_is_dataclass_like() -> None:
    assert repr(Evidence("/a", "t")) == "Evidence(source='/a', text='t', line=None)"
    assert repr(Boxed(3, Evidence("/a", "t"))) == (
        "Boxed(value=3, evidence=Evidence(source='/a', text='t', line=None))"
    )


def test_instances_are_frozen() -> None:
    e = Evidence("/a", "t")
    with pytest.raises(FrozenInstanceError):
        e.text = "u"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        e.other = 1  # type: ignore[attr-defined]
    with pytest.raises(FrozenInstanceError):
        del e.text
    assert e.text == "t"


def test_post_init_runs_on_init_and_on_replace() -> None:
    w = Weighed((1, 2, 3))
    assert w.weight == 6
    assert replace(w, words=(4,)).weight == 4


def test_replace() -> None:
    e = Evidence("/a", "t", 1)
    r = replace(e, line=2, text="u")
    assert r == Evidence("/a", "u", 2)
    assert e == Evidence("/a", "t", 1)
    assert type(replace(Child(1), c=3.0)) is Child
    assert replace(Child(1), a=2) == Child(2, "child", 1.5)
    assert type(replace(PlainChild("/a", "t"), line=3)) is PlainChild
    with pytest.raises(TypeError):
        replace(e, nope=1)
    with pytest.raises(TypeError):
        replace(object())
    if hasattr(copy, "replace"):  # Python 3.13+
        assert copy.replace(e, line=5) == Evidence("/a", "t", 5)


def test_generic_records() -> None:
    boxed: Boxed[int] = Boxed(1, Evidence("/a", "t"))
    assert boxed == Boxed(1, Evidence("/a", "t"))
    assert Boxed[int](1, Evidence("/a", "t")).value == 1


def test_pickle_and_copy_round_trip() -> None:
    for value in (Evidence("/a", "t", 1), Child(1), Weighed((1, 2)), Hint("s")):
        assert pickle.loads(pickle.dumps(value)) == value  # noqa: S301 -- our own bytes
        assert copy.copy(value) == value
        assert copy.deepcopy(value) == value


def test_methods_written_in_the_class_are_kept() -> None:
    @record
    class Custom:
        x: int

        def __init__(self, text: str) -> None:
            object.__setattr__(self, "x", int(text))

        def __repr__(self) -> str:
            return f"<{self.x}>"

        def __eq__(self, other: object) -> bool:
            return isinstance(other, Custom) and abs(self.x) == abs(other.x)

        def __hash__(self) -> int:
            return hash(abs(self.x))

    assert Custom("-2") == Custom("2")
    assert hash(Custom("-2")) == hash(Custom("2"))
    assert repr(Custom("3")) == "<3>"

    @record
    class OnlyEq:  # noqa: PLW1641 -- the point: the record supplies __hash__
        x: int

        def __eq__(self, other: object) -> bool:
            return isinstance(other, OnlyEq) and self.x % 10 == other.x % 10

    # Python sets __hash__ = None for a class that defines __eq__ alone; as with a frozen
    # dataclass the record gets its field hash back.
    assert hash(OnlyEq(1)) == hash(OnlyEq(1))


def test_definition_errors() -> None:
    with pytest.raises(ValueError, match="mutable default"):

        @record
        class Shared:
            items: list[int] = []  # noqa: RUF012

    with pytest.raises(TypeError, match="follows default"):

        @record
        class Order:
            a: int = 0
            b: int  # type: ignore[misc]

    with pytest.raises(ValueError, match="both"):
        field(default=1, default_factory=int)  # type: ignore[call-overload]

    with pytest.raises(TypeError, match="__setattr__"):

        @record
        class Settable:
            a: int

            def __setattr__(self, name: str, value: object) -> None:
                object.__setattr__(self, name, value)


def test_field_names_cannot_shadow_the_generated_code() -> None:
    @record
    class Odd:
        self: int
        MISSING: int = 3

    odd: Any = Odd(1)
    assert (odd.self, odd.MISSING) == (1, 3)
    assert odd == Odd(self=1, MISSING=3)


def test_classes_of_one_shape_keep_their_own_field_names() -> None:
    @record
    class One:
        a: int
        b: int = 1

    @record
    class Two:
        c: int
        d: int = 2

    assert (One(0).a, One(0).b, Two(0).c, Two(0).d) == (0, 1, 0, 2)
    assert Two(d=5, c=4) == Two(4, 5)
    assert repr(One(b=3, a=4)).endswith(".One(a=4, b=3)")
    with pytest.raises(TypeError, match="'c'"):
        Two()  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="'a'"):
        Two(a=1)  # type: ignore[call-arg]
    assert Two.__init__.__qualname__.endswith("Two.__init__")
    for _ in range(_record.HOT + 1):  # a hot class has its own written-out __init__
        Two(0)
    assert list(inspect.signature(Two).parameters) == ["c", "d"]
    assert Two.__init__.__qualname__.endswith("Two.__init__")


def test_defining_a_record_compiles_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The start-up cost this module exists for: a class compiles no code when it is
    defined, nor for its first ``HOT`` instances; then its ``__init__``, once."""
    compiled: list[str] = []

    def counted_exec(source: str, scope: dict[str, Any]) -> None:
        compiled.append(source)
        exec(source, scope)  # noqa: S102 -- the module's own generated code

    monkeypatch.setattr(_record, "exec", counted_exec, raising=False)
    names = {f"f{i}": int for i in range(23)}
    cls: Any = record(type("Wide", (), {"__annotations__": names}))
    assert compiled == []
    for _ in range(_record.HOT):
        assert cls(*range(23)).f22 == 22
    assert compiled == []
    assert cls(*range(23)).f22 == 22
    assert len(compiled) == 1
    assert cls(*range(23)) == cls(*range(23))
    assert len(compiled) == 1


def test_the_generic_init_binds_as_the_compiled_one() -> None:
    """Before a class is hot its arguments are bound by the field list: the same values,
    defaults, factories, __post_init__ and TypeErrors as the compiled __init__ gives."""

    @record
    class Shape:
        a: int
        b: int = 1
        c: frozenset[int] = field(default_factory=frozenset)

        def __post_init__(self) -> None:
            if self.a < 0:
                raise ValueError("negative")

    make: Any = Shape

    def outcomes() -> list[object]:
        out: list[object] = []
        good: list[tuple[tuple[int, ...], dict[str, Any]]] = [
            ((1,), {}),
            ((1, 2), {"c": frozenset({3})}),
            ((), {"b": 2, "a": 0}),
        ]
        for args, kwargs in good:
            out.append(make(*args, **kwargs))
        for args, kwargs in [((), {}), ((1, 2, 3, 4), {}), ((1,), {"a": 2}), ((1,), {"z": 1})]:
            with pytest.raises(TypeError) as exc:
                make(*args, **kwargs)
            out.append(str(exc.value).split("() ", 1)[1])
        with pytest.raises(ValueError, match="negative"):
            Shape(-1)
        return out

    generic = outcomes()
    for _ in range(_record.HOT + 1):
        Shape(0)
    assert generic == outcomes()


# The same class, made by both decorators: every operation gives the same result.


def _pair(make: Any) -> Any:
    @make
    class Finding:
        rule: str
        severity: int
        evidence: tuple[str, ...] = ()
        notes: tuple[str, ...] = make_field(make, default=())
        seen: frozenset[str] = make_field(make, default_factory=frozenset)

    return Finding


def make_field(make: Any, **kwargs: Any) -> Any:
    return field(**kwargs) if make is record else dataclasses.field(**kwargs)


FROZEN_DATACLASS = dataclasses.dataclass(frozen=True)


@pytest.mark.parametrize(
    "calls",
    [
        [(("r", 1), {}), (("r", 1), {}), (("r", 2), {})],
        [(("r", 1, ("e",)), {}), ((), {"rule": "r", "severity": 1, "evidence": ("e",)})],
        [(("r", 1), {"notes": ("n",)}), (("r", 1, (), ("n",), frozenset({"x"})), {})],
    ],
)
def test_matches_a_frozen_dataclass(calls: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> None:
    rec, dc = _pair(record), _pair(FROZEN_DATACLASS)
    recs = [rec(*a, **k) for a, k in calls]
    dcs = [dc(*a, **k) for a, k in calls]
    assert [repr(r) for r in recs] == [repr(d) for d in dcs]
    assert [[x == y for y in recs] for x in recs] == [[x == y for y in dcs] for x in dcs]
    assert [[hash(x) == hash(y) for y in recs] for x in recs] == [
        [hash(x) == hash(y) for y in dcs] for x in dcs
    ]
    assert [repr(replace(r, severity=9)) for r in recs] == [
        repr(dataclasses.replace(d, severity=9)) for d in dcs
    ]
    if hasattr(dc, "__match_args__"):  # Python 3.10+
        assert rec.__match_args__ == dc.__match_args__
    assert [f.name for f in dataclasses.fields(dc)] == list(rec.__record_fields__)
