"""mepipe: raw facial-expression releases to clean, aligned, versioned training data."""

__version__ = "0.1.0"
