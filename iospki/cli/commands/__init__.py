"""CLI command groups, one module each, registered in iospki/cli/__init__.py."""
