"""Drift: changes QBO reports (CDC) that this product did not make, to fields Bottleneck owns."""
