"""Package reports."""
