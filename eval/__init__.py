"""Evaluation suites, batched/parallel episode runner, result files, tables, plots and rendering.

Entry points: `eval.evaluate.evaluate` (library), `srmt eval` / `srmt render` /
`srmt bench eval` (eval.cli). See docs/evaluation.md.
"""
