"""Experiments of the Foundations part (quantal release, curvature, information and energy)."""
from __future__ import annotations
