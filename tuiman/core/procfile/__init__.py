"""Procfiles (docs/configuration.md#procfiles): `tuiman -c Procfile`, `tuiman convert Procfile`."""
