"""Who made a model, and so which country: the pure rule (`countries`), its sourced tables (`orgs`,
`bot/data/*.toml`), and keeping stored history in step when the tables change (`upkeep`)."""
