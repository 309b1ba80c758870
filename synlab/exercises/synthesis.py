"""Exercise checkers of the synthesis part of the book."""
from __future__ import annotations
