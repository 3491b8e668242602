"""Pruning: structured channel pruning (torch-pruning) with KD recovery, and unstructured masks."""
