"""Slack: slack-bolt's AsyncApp on the bot's aiohttp server (or Socket Mode)."""
