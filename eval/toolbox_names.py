"""The algorithm names `srmt toolbox` registers with pogema-toolbox, importable without pogema-toolbox."""

TOOLBOX_ALGORITHMS = {"SRMT": "srmt", "PIBT": "pibt", "GuidedPIBT": "guided-pibt"}
"""Names eval/toolbox.py registers with pogema-toolbox (what `srmt toolbox --algo` accepts) -> this
project's --algo; here so that the command line needs no pogema-toolbox."""
