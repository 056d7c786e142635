"""The data authprobe reasons with: versions and their facts, profiles, expectations,
restart series and outcomes. Pure data and logic, no clusters or processes."""
