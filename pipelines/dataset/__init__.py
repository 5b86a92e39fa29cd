"""The dataset on disk or S3, with no Scrapy in it: layout, storage, schema, manifests, compaction, lock, index.

The item pipelines, the commands and the distributed mode all use it; it never imports Scrapy.
"""
