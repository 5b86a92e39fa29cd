"""Scrapy extensions of the project: the run's progress log and its health check."""
