"""The competence engine: catalogue of schemes, issuers' keys and signed attestations (pure)."""
