"""Fault injection for the whole pipeline: see matrix.py."""
