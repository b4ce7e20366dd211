"""The device application: configuration, topics, logging, the runtime and the member hook."""
