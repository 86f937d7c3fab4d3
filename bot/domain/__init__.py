"""The domain's types (Snapshot, Entry, Event, Message, Destination, ListSpec, rule state, outcomes).

Plain values every room passes to the next; this package imports nothing else of the project, and it
is all of `bot/` that `store/` may import.
"""
