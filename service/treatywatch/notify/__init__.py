"""Notifications: routing alerts to subscribers, templates, the outbox worker and the apprise edge."""
