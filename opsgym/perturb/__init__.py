"""Perturbation generators: realistic drift in what the agent observes (for Adaptivity)."""
