"""Numeric building blocks shared by synthesis, the utility measures and the metrics: columns as float arrays
(``floats``), Gaussian kernel density estimates (``kde``), 64-bit hashes of Arrow strings with a set of them
(``hashing``) and per-column moments merged over batches (``moments``). Below all of them, so none imports another
for them."""
