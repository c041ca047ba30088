"""The search engine: Meilisearch process and index, search documents, queries, geocoding."""
