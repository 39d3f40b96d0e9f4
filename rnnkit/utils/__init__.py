"""Small shared helpers (no rnnkit imports): atomic file writes."""
