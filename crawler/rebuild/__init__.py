"""Rebuild and import on every core: captures read in capture order, each page extracted and
fingerprinted in worker processes (:mod:`.pages`, :mod:`.parallel`), then one sequential stage that decides
versions and duplicates in capture order and writes the dataset (:mod:`.engine`), outside Scrapy's reactor."""
