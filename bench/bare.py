"""The bare idle floor: log in, SELECT the folder, UID SEARCH, log out. Nothing else.

    python bench/bare.py HOST PORT USER   (password in $BENCH_IMAP_PASSWORD)
"""
import os
import sys

from imapclient import IMAPClient

host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
with IMAPClient(host, port=port, ssl=False, timeout=60) as c:
    c.login(user, os.environ["BENCH_IMAP_PASSWORD"])
    c.select_folder("INBOX", readonly=True)
    uids = c.search(["ALL"])
print(len(uids))
