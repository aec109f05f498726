"""Teams on the Microsoft 365 Agents SDK (FINOPS_TEAMS_SDK=agents); see NOTES.md."""

try:
    import microsoft_agents.hosting.core  # noqa: F401  (the optional extra `agents`)
except ModuleNotFoundError as missing:
    raise ModuleNotFoundError(
        "FINOPS_TEAMS_SDK=agents needs the Microsoft 365 Agents SDK: "
        "pip install 'finops-community-bot[agents]' (or unset FINOPS_TEAMS_SDK)"
    ) from missing
