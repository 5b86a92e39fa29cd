"""Views of the dataset for people: the Markdown mirror and the HTML report (no Scrapy here)."""
