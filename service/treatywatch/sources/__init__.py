"""Source types: fetch plans and parsers for feeds, legal portals, HTML pages and JSON APIs."""
