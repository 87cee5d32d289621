"""Command-line commands of `python app.py`: each module adds its parser and runs its work."""
