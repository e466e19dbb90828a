"""Input channels: one class per platform, each turning platform messages into
`InboundMessage` objects and `Reply` objects back into the platform's format."""
