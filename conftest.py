"""Doctest collection (`--doctest-modules` over the packages): skip modules whose optional extra is absent."""
import importlib.util

collect_ignore = [] if importlib.util.find_spec("pogema_toolbox") else ["eval/toolbox.py"]
