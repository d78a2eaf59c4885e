"""APPO training of SRMT policies through stock sample-factory 2.1.1 (`srmt train`; docs/training.md).

Read it from train/run.py `train(argv)` down: the command line over a preset or a saved config
(overrides.py, presets.py, saved_config.py) into the config dataclasses (config.py), the checks
(checks.py), the warm start (warm_start.py), then sample-factory, reached only through train/bridge/,
whose first page follows the memory from the env to the learner.
"""
