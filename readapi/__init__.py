"""The read API: the report figures as JSON for read keys (GET /api/v1/reports/...)."""
