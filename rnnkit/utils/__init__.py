"""Small shared helpers (no rnnkit imports): atomic file writes (`files`), names
(`names`: snake case, unique layer names)."""
