"""Teams on the Microsoft 365 Agents SDK (FINOPS_TEAMS_SDK=agents); see NOTES.md."""
