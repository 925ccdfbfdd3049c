"""The installed version, kept in one place (read by the build and by the User-Agent)."""

__version__ = "0.1.0"
"""The version of numbers-async, e.g. ``"0.1.0"``."""
