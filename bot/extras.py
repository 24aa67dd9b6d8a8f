"""Optional dependencies: imported where used, with the exact install line when missing."""

from __future__ import annotations

import importlib
from types import ModuleType

from .errors import BriefbotError


class MissingExtra(BriefbotError):
    pass


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or fail with the ``pip install`` line that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(
            f"{feature} needs the '{extra}' extra: pip install 'briefbot[{extra}]'") from None
