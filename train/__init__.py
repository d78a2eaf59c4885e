"""APPO training of SRMT policies through stock sample-factory 2.1.1 (`srmt train`); see docs/training.md."""
