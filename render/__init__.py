"""Rendering: play one episode (play.py), record it (trajectory.py) and draw it as SVG, MP4 and GIF from one
description (frames.py, drawing.py); `srmt render` (cli.py)."""
