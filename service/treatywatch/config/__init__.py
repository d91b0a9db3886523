"""Configuration: pydantic models of the operators' YAML and the loader that reports file:line."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .loader import load_config
    from .models import Config, Settings, Subscriber, Watch

__all__ = ["Config", "Settings", "Subscriber", "Watch", "load_config"]


def __getattr__(name: str) -> Any:
    """The package's names, imported at first use rather than with the package: the source types need
    config.common, and the models and the loader need the source types, so importing them here made
    `import treatywatch.sources.fetch` fail whenever it came before any import of the configuration."""
    if name == "load_config":
        from .loader import load_config

        return load_config
    if name in __all__:
        from . import models

        return getattr(models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
