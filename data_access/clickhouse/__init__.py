"""The ClickHouse store: a server cluster (clickhouse://) or the embedded engine (chdb://)."""
