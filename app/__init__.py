"""The composition root: the only place that knows every part (settings, database, bot,
adapters, HTTP server, CLI) and wires them together. `bot/` and `storage/` never import it."""
