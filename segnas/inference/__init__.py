"""Prediction back to each file's geometry, post-processing, metrics and evaluation, and standalone export."""
