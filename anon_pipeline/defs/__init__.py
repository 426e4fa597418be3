"""The Dagster layer: builds definitions from policies (assets, checks, IO manager, jobs, schedules)."""
