"""The Dash dashboard: shell, layouts and callbacks of the reports screen."""
