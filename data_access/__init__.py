"""Data access: the message store, its tables, report queries and the loader. Knows no Dash."""
