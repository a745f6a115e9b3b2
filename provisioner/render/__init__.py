"""Render: print translated objects as deterministic YAML (byte-identical on every run), to a stream or a folder."""
