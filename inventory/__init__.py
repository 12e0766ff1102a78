"""The built-in lab's Nornir inventory, installed as `iospki.builtin_inventory` (package data).

This folder holds data only: config.yaml, hosts.yaml, groups.yaml, defaults.yaml and examples/. This file
makes it a package so that `importlib.resources` finds the same files in a wheel install and in an
editable checkout; the toolkit's `--inventory` default and the lab's `up --inventory` default both read it.
"""
