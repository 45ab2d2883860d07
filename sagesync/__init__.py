"""sagesync."""
