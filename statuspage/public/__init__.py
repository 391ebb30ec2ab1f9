"""The public blueprints: the page, subscribe, feeds, the JSON APIs (v2 read, v1 write),
widgets and health checks. Each parses, calls one operation or read, commits, answers.
"""
