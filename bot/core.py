"""The platform-free bot: takes notes and commands from adapters, owns jobs and settings."""
