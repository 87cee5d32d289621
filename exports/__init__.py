"""Background CSV/XLSX exports: requests, job table queries, writers and the worker pool."""
