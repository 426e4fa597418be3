"""Bundled sample-data generators (seeded), so the pipeline runs with no data of one's own."""

from anon_pipeline.sample.registry import generate, get_generator, register_generator

__all__ = ["generate", "get_generator", "register_generator"]
