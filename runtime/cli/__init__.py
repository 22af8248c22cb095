"""The `imggen-rt` command line."""
