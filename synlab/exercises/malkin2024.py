"""Exercise checkers of the malkin2024 part of the book."""
from __future__ import annotations
