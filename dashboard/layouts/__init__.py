"""Builders of the dashboard's components: plain functions from data and language to layout."""
