"""The built-in processors, one module per entity family. Registered in bottleneck_qbo/sync/registry.py."""
