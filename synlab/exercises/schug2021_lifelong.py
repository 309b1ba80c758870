"""Exercise checkers of the Schug et al. 2021 lifelong-learning chapters."""
from __future__ import annotations
