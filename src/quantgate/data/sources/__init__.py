"""Where data comes from: one adapter interface, several implementations."""
