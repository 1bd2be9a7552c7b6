"""regscale: neural scaling laws for deep regression on twisted bilayer CrI3 images."""

__version__ = "0.1.0"
