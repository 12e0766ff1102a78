"""TTP templates for the parsers (package data, loaded with importlib.resources)."""
