"""Example dg project: anonymisation policies as Dagster Components."""
