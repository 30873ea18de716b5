"""The shared core: what the API (``service``) and the workers (``worker``) both stand on."""
