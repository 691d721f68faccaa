"""End-to-end scenarios: Bottleneck written with SQL, QBO checked through the sandbox (issue 4)."""
