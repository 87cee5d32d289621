"""The dashboard's callbacks, one module per area, each with register_callbacks(app, services)."""
