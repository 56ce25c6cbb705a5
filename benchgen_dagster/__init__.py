"""benchgen: mechanical-engineering benchmark scenarios, generated, checked and promoted."""

__version__ = "0.1.0"
