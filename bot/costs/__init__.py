"""Cloud cost data (FOCUS imports) and the digest's cost chart."""
