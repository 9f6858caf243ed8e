"""An explicit registry of runnable examples: `@register_example(name, summary)` on a `run`.

Each example is a function `run(*, out_dir: Path, seed: int = 0, **typed_options) -> dict`
that writes `<name>.png` and `<name>.json` into `out_dir` and returns the figures (numbers)
it drew. The registry only records names; it imports no example itself (the package's
`__init__` does, explicitly), so there is no file-name magic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mosaicgan.errors import UserError

ExampleRun = Callable[..., dict[str, Any]]


@dataclass(frozen=True)
class ExampleEntry:
    name: str
    summary: str
    run: ExampleRun


_REGISTRY: dict[str, ExampleEntry] = {}


def register_example(name: str, summary: str) -> Callable[[ExampleRun], ExampleRun]:
    """Decorator: register an example's `run` function under `name` (a one-line summary)."""
    if not name or any(ch.isspace() for ch in name):
        raise ValueError(f"example names are single words, got {name!r}")

    def decorate(run: ExampleRun) -> ExampleRun:
        if name in _REGISTRY:
            raise ValueError(f"example {name!r} is registered twice")
        _REGISTRY[name] = ExampleEntry(name, summary, run)
        return run

    return decorate


def list_examples() -> list[ExampleEntry]:
    """Registered examples, in registration order."""
    return list(_REGISTRY.values())


def get_example(name: str) -> ExampleEntry:
    entry = _REGISTRY.get(name)
    if entry is None:
        names = ", ".join(_REGISTRY)
        raise UserError(f"unknown example {name!r}; choose one of: {names}")
    return entry
