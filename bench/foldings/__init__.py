"""Folding files shipped with qnn-bench (package data)."""
