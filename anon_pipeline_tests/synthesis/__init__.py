"""Tests for anonymisation by synthesis (issue 4)."""
