"""Check: re-fetch a cited page and judge it against its cited copy (SPEC §5)."""
