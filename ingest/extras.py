"""Optional dependencies (pyproject's extras): import one, or say which extra installs it."""

from __future__ import annotations

import importlib
from types import ModuleType


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, module: str, extra: str, needed_for: str) -> None:
        super().__init__(
            f"{needed_for} needs the Python package {module!r}, which is not "
            f"installed: pip install 'slotwise[{extra}]'",
            name=module,
        )
        self.extra = extra


def import_extra(module: str, extra: str, needed_for: str) -> ModuleType:
    """``import module``, or MissingExtra naming ``extra`` when it is not installed.

    Only the module itself missing is MissingExtra; an installed module that fails to
    import (one of its own dependencies missing or broken) raises its own error.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module.partition(".")[0]:
            raise
        raise MissingExtra(module, extra, needed_for) from None
