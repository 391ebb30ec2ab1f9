"""Paging (issue 24): who is on call (``rotations``), when the working day is
(``business_hours``), and how a person's ways are checked and named (``ways``). What is
sent, and when, is the outbox's: ``outbox.pages`` queues a page and its ways,
``outbox.paging`` runs the playbook's chain, ``outbox.channels.page`` sends through
Apprise.
"""
