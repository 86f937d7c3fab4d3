"""One poll of one list: fetch → attribute → detect → store snapshot, rule state, events and outbox rows in
ONE transaction. The step that joins source, attribution, rules and store."""
