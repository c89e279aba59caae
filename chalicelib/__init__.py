"""mps-thumbnail: a JD Cloud MPS compatible video thumbnail service."""
