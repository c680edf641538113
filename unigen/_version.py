"""The unigen version, in a module of its own so that any layer can read it without
importing the public API (``unigen/__init__.py``) from below."""

__version__ = "0.1.0"
