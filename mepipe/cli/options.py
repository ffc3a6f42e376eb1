"""One click option per field of an options dataclass, for both `mepipe` and `mepipe-train`.

The dataclass is the one place that states an option: its name (the field's, with `-` for
`_`), its default, its `help` metadata and, optionally, its `choices`. Checking values is
the dataclass's job (it raises mepipe.errors.OptionError), so the command line, Python and a
saved configuration refuse the same values with the same message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import click

_Command = TypeVar("_Command", bound=Callable[..., Any])
# Field annotations (strings under `from __future__ import annotations`) -> click types.
# A tuple of names is typed as comma-separated text; the dataclass splits it.
_TYPES = {"int": int, "float": float, "str": str, "bool": bool, "tuple[str, ...]": str}


def _leaves(cls: type, defaults: Any) -> Iterator[tuple[dataclasses.Field, Any]]:
    """(field, default) of every option, the fields of nested dataclasses expanded."""
    for fld in dataclasses.fields(cls):
        default = getattr(defaults, fld.name)
        if dataclasses.is_dataclass(default):
            yield from _leaves(type(default), default)
        else:
            yield fld, default


def _option(fld: dataclasses.Field, default: Any, unset: bool) -> Callable[[_Command], _Command]:
    flag = "--" + fld.name.replace("_", "-")
    help_text = fld.metadata["help"]
    kind = _TYPES.get(str(fld.type), type(default))
    if isinstance(default, tuple):  # typed as comma-separated text
        default = ",".join(default)
    if unset:  # the default is shown, but only options given on the command line are set
        help_text, default = f"{help_text} [default: {default!s}]", None
    if kind is bool:
        return click.option(
            f"{flag}/--no-{flag[2:]}", fld.name, default=default, help=help_text,
            show_default=not unset,
        )  # fmt: skip
    choices = fld.metadata.get("choices")
    return click.option(
        flag,
        fld.name,
        type=click.Choice(choices) if choices else kind,
        default=default,
        show_default=not unset,
        help=help_text,
    )


def dataclass_options(cls: type, *, unset: bool = False) -> Callable[[_Command], _Command]:
    """Click decorator: one option per field of the dataclass `cls` (all fields have
    defaults; those of a nested dataclass field become options too). With `unset`, options
    not given are None, for commands that merge them over a saved configuration."""

    def decorate(command: _Command) -> _Command:
        for fld, default in reversed(list(_leaves(cls, cls()))):
            command = _option(fld, default, unset)(command)
        return command

    return decorate


def options_from_cli(cls: type, kwargs: dict[str, Any]) -> Any:
    """An instance of `cls` from the keyword arguments of a command decorated with
    `dataclass_options(cls)` (other keys are ignored; values the dataclass refuses raise
    mepipe.errors.OptionError)."""
    defaults = cls()
    values: dict[str, Any] = {}
    for fld in dataclasses.fields(cls):
        default = getattr(defaults, fld.name)
        if dataclasses.is_dataclass(default):
            values[fld.name] = options_from_cli(type(default), kwargs)
        else:
            values[fld.name] = kwargs[fld.name]
    return cls(**values)
