"""The sync service: plan a refresh (list repos, find stale ones, fan out) and sync one repo."""
