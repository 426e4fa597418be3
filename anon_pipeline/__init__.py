"""anon_pipeline: turn a table of personal data into a release that is provably anonymous and still useful."""

__version__ = "0.1.0"
