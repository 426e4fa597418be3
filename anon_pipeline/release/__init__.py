"""Writing releases: atomic, versioned, read-only, with a manifest of checksums."""

from anon_pipeline.release.writer import sha256_file, write_release

__all__ = ["sha256_file", "write_release"]
