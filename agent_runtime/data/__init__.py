"""Small evaluation data shipped with the package (see SOURCES.md)."""
