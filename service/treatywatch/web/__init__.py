"""The status page, JSON API and metrics: read-only views of the Store."""
