"""Map data for srmt: grid parsing, map collections, the bottleneck task.

The bottom layer of the project: imports only the standard library, numpy,
yaml and PIL. See docs/maps.md.
"""
