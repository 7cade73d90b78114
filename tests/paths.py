"""Locations of test data that the tests share."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent
MAVEN_CRM = TESTS / "fixtures" / "maven-crm"
"""The public Maven CRM sample (real export), copied into the repository so a clean checkout can test it."""
