"""An example opsgym plugin package."""
