"""Service layer: the rules of each capability, between dialogue/API handlers and repositories."""
