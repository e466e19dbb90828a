"""Storage: motor repositories (MongoDB) and Redis-backed state, locks and dedup keys."""
