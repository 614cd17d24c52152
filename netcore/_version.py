"""The package version, in one place (read by the model writer and by packaging)."""

__version__ = "0.1.0"
