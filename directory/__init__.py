"""The system of record and the service: models, HTTP API, CLI, importers."""
