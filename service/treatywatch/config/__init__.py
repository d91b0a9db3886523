"""Configuration: pydantic models of the operators' YAML and the loader that reports file:line."""

from .loader import load_config
from .models import Config, Settings, Subscriber, Watch

__all__ = ["Config", "Settings", "Subscriber", "Watch", "load_config"]
