"""`imggen-rt serve`: an HTTP server with dynamic batching (the `serve` extra)."""
