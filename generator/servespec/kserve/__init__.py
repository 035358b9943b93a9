"""What servespec knows about each KServe release: its schemas, its features, its webhooks' rules."""
