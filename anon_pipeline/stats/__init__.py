"""Numeric building blocks shared by synthesis, the utility measures and the metrics: columns as float arrays
(``floats``) and Gaussian kernel density estimates (``kde``). Below all three, so none imports another for them."""
