"""Writing releases: atomic, versioned, read-only, with a manifest of checksums and provenance."""

from anon_pipeline.release.manifest import build_manifest, library_versions, policy_hash
from anon_pipeline.release.writer import (ReleaseError, clean_stale_temporaries, iter_release_batches,
                                          read_release_table, sha256_file, verify_release, write_release)

__all__ = ["ReleaseError", "build_manifest", "clean_stale_temporaries", "iter_release_batches", "library_versions", "policy_hash",
           "read_release_table", "sha256_file", "verify_release", "write_release"]
