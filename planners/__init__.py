"""Centralised planners and what they plan on: BFS distance fields (pathfinding.py) and PIBT (pibt.py).

Planners serve three roles: a baseline (`srmt eval --algo`), the resolver of the collision shield, and the
expert `srmt imitate` copies. They read only maps, positions, goals and preference orders, so `envs/`,
`agents/` and `train/` may all import them.
"""
