"""Anonymisation by synthesis (source document C): discrete and kernel-density synthesis, partitions."""
