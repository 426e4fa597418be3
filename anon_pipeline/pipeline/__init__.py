"""Package pipeline."""
