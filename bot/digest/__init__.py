"""The weekly digest: its maths (pure), its creation and fan-out once a week, and its chart, drawn in a
child process so matplotlib never loads into the bot."""
