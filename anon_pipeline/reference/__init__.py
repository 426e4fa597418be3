"""Package reference."""
