"""Probability calibration of the student: temperature scaling folded into its last layer."""
