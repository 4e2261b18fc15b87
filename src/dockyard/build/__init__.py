"""Dockerfile builds: parser, word expansion, typed instructions, .dockerignore matching.

Import the submodules directly (``dockyard.build.instructions``); this package imports
nothing so that the CLI starts fast.
"""
