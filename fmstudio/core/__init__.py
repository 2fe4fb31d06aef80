"""The Flow Matching engine: torch + numpy only, never Qt (the app and the CLI sit on top)."""
