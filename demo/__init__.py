"""Demo data: realistic messages for a seed and the demo sign-in accounts (demo/data.json)."""
