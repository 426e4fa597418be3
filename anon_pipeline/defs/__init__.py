"""Package defs."""
