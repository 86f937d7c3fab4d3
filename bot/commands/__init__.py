"""Slash commands, platform-neutral: each handler reads or changes the store and returns a `Message`;
the adapters only translate the platform's interaction to a call here and render the answer."""
