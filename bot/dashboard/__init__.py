"""The wins-wall dashboard: a read-only web page per workspace, opened with a signed link.

`links` signs and checks the links, `data` gathers what the page shows (SQL aggregates in
storage/), `chart` lays out the savings chart, `render` fills the Jinja2 templates, `exports`
writes the CSV files and `routes` serves it all on the bot's aiohttp server.
"""
