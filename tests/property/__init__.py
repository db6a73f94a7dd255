"""Hypothesis property tests (marked ``property``)."""
