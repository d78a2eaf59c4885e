"""The `srmt` console script."""
