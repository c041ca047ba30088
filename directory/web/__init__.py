"""The drivers' web face: server-rendered pages on the same services as the API."""
