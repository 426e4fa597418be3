"""Automatic generalisation: lattice search for the optimal full-domain generalisation, and Mondrian."""

from anon_pipeline.search.optimal import OptimalResult, optimal

__all__ = ["OptimalResult", "optimal"]
