"""From the outbox to the platforms: the `Adapter` protocol, the drain (order, pacing, retries, pausing
dead channels) and the wording of each event as a platform-neutral `Message`."""
