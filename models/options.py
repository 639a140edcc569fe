"""Typed, self-describing option fields shared by every settings group.

A dataclass field declared with :func:`option` carries its help sentence, range
and choices. From that one declaration come validation (with a message naming
the value and its range), the CLI flags, the GUI's controls and tooltips, and
what is persisted. ``models`` owns this because the decoding parameters live
here and ``rag.settings`` builds on them.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from typing import Any

_META = "quarry_option"


@dataclasses.dataclass(frozen=True)
class OptionSpec:
    help: str
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    flag: str | None = None  # CLI flag without dashes; None means derived from the name
    cli: bool = True  # False keeps it out of argparse (GUI-only, e.g. window layout)
    label: str | None = None  # short GUI label; None means derived from the name
    secret: bool = False  # never in a repr (so never in a log); a GUI masks it


def option(
    default: Any = dataclasses.MISSING,
    help: str = "",
    *,
    default_factory: Any = dataclasses.MISSING,
    min: float | None = None,
    max: float | None = None,
    choices: tuple | None = None,
    flag: str | None = None,
    cli: bool = True,
    label: str | None = None,
    secret: bool = False,
) -> Any:
    spec = OptionSpec(help=help, min=min, max=max, choices=choices, flag=flag, cli=cli, label=label,
                      secret=secret)
    return dataclasses.field(
        default=default, default_factory=default_factory, metadata={_META: spec},
        repr=not secret,
    )


def spec_of(f: dataclasses.Field) -> OptionSpec | None:
    return f.metadata.get(_META)


def options(cls_or_obj: Any) -> list[tuple[dataclasses.Field, OptionSpec]]:
    """The declared option fields of a settings dataclass, in order."""
    return [(f, s) for f in dataclasses.fields(cls_or_obj) if (s := spec_of(f)) is not None]


def label_of(f: dataclasses.Field, spec: OptionSpec) -> str:
    return spec.label or f.name.replace("_", " ").capitalize()


def field_types(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def base_type(tp: Any) -> Any:
    """``int | None`` -> int; ``list[str]`` -> list; plain types unchanged."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return base_type(args[0]) if len(args) == 1 else tp
    return origin or tp


def check_option(name: str, value: Any, spec: OptionSpec) -> None:
    """Raise ValueError naming the option and its allowed range when value is outside it."""
    if value is None:
        return
    if spec.choices is not None and value not in spec.choices:
        allowed = ", ".join(map(str, spec.choices))
        raise ValueError(f"{name} must be one of {allowed}; got {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    lo, hi = spec.min, spec.max
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        rng = (
            f"between {lo} and {hi}"
            if lo is not None and hi is not None
            else (f"at least {lo}" if lo is not None else f"at most {hi}")
        )
        raise ValueError(f"{name} must be {rng}; got {value}")


def validate(obj: Any) -> None:
    """Check every option field of a dataclass instance, and coerce ints given for floats."""
    hints = field_types(type(obj))
    for f, spec in options(obj):
        value = getattr(obj, f.name)
        tp = base_type(hints[f.name])
        if tp is float and isinstance(value, int) and not isinstance(value, bool):
            object.__setattr__(obj, f.name, float(value))
        elif (
            tp in (int, float)
            and value is not None
            and (isinstance(value, bool) or not isinstance(value, int | float))
        ):
            raise ValueError(f"{f.name} must be a number; got {value!r}")
        check_option(f.name, getattr(obj, f.name), spec)


def flag_of(f: dataclasses.Field, spec: OptionSpec) -> str:
    return "--" + (spec.flag or f.name.replace("_", "-"))


def add_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup, cls: type) -> None:
    """Add one flag per CLI option of ``cls``; unset flags parse as None (keep the setting)."""
    hints = field_types(cls)
    for f, spec in options(cls):
        if not spec.cli:
            continue
        tp = base_type(hints[f.name])
        kw: dict[str, Any] = {"dest": f.name, "default": None, "help": _help_line(f, spec)}
        if tp is bool:
            kw["action"] = argparse.BooleanOptionalAction
        elif tp is list:
            kw["action"] = "append"
            kw["metavar"] = "TEXT"
        else:
            kw["type"] = tp if tp in (int, float, str) else str
            if spec.choices:
                kw["choices"] = spec.choices
        parser.add_argument(flag_of(f, spec), **kw)


def _help_line(f: dataclasses.Field, spec: OptionSpec) -> str:
    text = spec.help
    if spec.min is not None or spec.max is not None:
        text += f" [{'' if spec.min is None else spec.min}..{'' if spec.max is None else spec.max}]"
    default = f.default if f.default is not dataclasses.MISSING else None
    if default not in (None, dataclasses.MISSING):
        text += f" (default {default})"
    return text.replace("%", "%%")


def overrides_from_args(ns: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The options of ``cls`` that were given on the command line."""
    out = {}
    for f, spec in options(cls):
        if spec.cli and getattr(ns, f.name, None) is not None:
            out[f.name] = getattr(ns, f.name)
    return out


def to_dict(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}


def from_dict(cls: type, data: dict[str, Any], *, strict: bool = False) -> Any:
    """Build ``cls`` from saved data, ignoring unknown keys; with strict=False a bad
    saved value falls back to its default instead of making the app unstartable."""
    known = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: v for k, v in data.items() if k in known}
    try:
        return cls(**kwargs)
    except (TypeError, ValueError):
        if strict:
            raise
    good = {}
    for k, v in kwargs.items():
        try:
            cls(**{**good, k: v})
        except (TypeError, ValueError):
            continue
        good[k] = v
    return cls(**good)
