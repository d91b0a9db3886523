"""TreatyWatch: alerts when tracked international agreements are terminated, decrees published or assets move."""

__version__ = "0.1.0"
