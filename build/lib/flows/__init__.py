"""Prefect flows: thin wrappers that add retries, logging of counts and artifacts around screening.pipeline."""
