"""Package sample."""
