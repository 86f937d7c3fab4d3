"""History from public archives of the trending list (`python -m bot import`) and the bot's own export.

Beside `bot.source`: where `bot.source` fetches the list as it is now, this room reads what others
(and the bot itself) recorded before. `formats` turns bytes into snapshots (pure), `git` reads
every version of an archive file from a git history, `reading` finds the snapshots in a path,
`importer` attributes them by today's rules and hands them to `store.imports`, `export` writes
the rows `store.exports` reads.
"""
