"""Where snapshots come from: the Hub's trending lists (huggingface_hub) or a replay file.

The only code that talks to the Hub; every answer is parsed here, at the edge, into a `Snapshot`.
"""
