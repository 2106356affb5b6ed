"""Prompts: the ids the IVR needs, number speaking from fragments, and rendering to audio."""
