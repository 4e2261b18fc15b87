"""Docker-compatible command line: one module per noun, loaded only when used."""
