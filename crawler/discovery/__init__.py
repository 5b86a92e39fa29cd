"""Discovery: how the spider finds articles (pure functions, no Scrapy).

- `page.scan`: one walk over any fetched page gives every article link, the main list (paging) and the list
  pages linked, tab-only channels included.
- `feeds.feed_links` / `feeds.has_gap`: the articles of a feed, and whether the lists must be walked after it.
"""
