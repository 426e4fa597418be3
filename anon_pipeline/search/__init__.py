"""Automatic generalisation: lattice search for the optimal full-domain generalisation, and Mondrian."""
