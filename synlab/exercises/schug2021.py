"""Exercise checkers of the schug2021 part of the book."""
from __future__ import annotations
