"""Numeric building blocks shared by synthesis, the utility measures and the metrics: columns as float arrays
(``floats``), Gaussian kernel density estimates (``kde``) and 64-bit hashes of Arrow strings with a set of them
(``hashing``). Below all three, so none imports another for them."""
