"""Exercise checkers of the Foundations part."""
from __future__ import annotations
