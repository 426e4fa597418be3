"""Package hierarchies."""
