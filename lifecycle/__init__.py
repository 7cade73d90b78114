"""Lifecycle Explorer's shared module: ingest, canonical tables, metrics, figures. Never imports streamlit."""
