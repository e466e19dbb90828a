"""Linli's aiohttp application: channels, the chat pipeline and (later) the staff console."""
