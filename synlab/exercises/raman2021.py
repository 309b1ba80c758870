"""Exercise checkers of the raman2021 part of the book."""
from __future__ import annotations
