"""Scrapy project that archives the Chinese Epoch Times (gb and b5 editions)."""
