"""Plain values shared by every layer: no I/O, no imports from the project above it."""
