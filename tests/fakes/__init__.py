"""In-memory fakes of the storage repositories (plain dicts, same public methods)."""
