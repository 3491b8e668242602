"""Prediction for a device profile: graph costs, latency (roofline or fitted runtime models), memory."""
