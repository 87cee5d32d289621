"""The reports' core below the UI: languages, words, number and date writing, the view state."""
