"""Reference data shipped with the package (postcodes, countries) and their offline look-ups."""
