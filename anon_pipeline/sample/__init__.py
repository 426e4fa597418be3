"""Bundled sample-data generators (seeded), so the pipeline runs with no data of one's own."""

from anon_pipeline.sample.registry import batches, generate, get_generator, register_generator, write_sample

__all__ = ["batches", "generate", "get_generator", "register_generator", "write_sample"]
