"""Compare Bottleneck with QBO (``run``: the reading and the plan; ``diff``: the pure comparison)."""
