"""The built-in processors, one module per entity family. Registered in streams/processors/registry.py."""
