"""The bare floor for a poll: only the work intake cannot avoid, with the same libraries.

    python bench/floor.py HOST PORT USER   (password in $BENCH_IMAP_PASSWORD)

Fetch every message once (imapclient, BODY.PEEK[]), parse MIME (stdlib email),
open each .docx with python-docx and read every paragraph and table cell, open
each PDF with pypdfium2 and render its last page once at 100 dpi.
"""
import io
import os
import sys
from email import message_from_bytes, policy

import docx
import pypdfium2 as pdfium
from imapclient import IMAPClient

host, port, user = sys.argv[1], int(sys.argv[2]), sys.argv[3]
counts = {"mails": 0, "docx": 0, "pdf": 0, "chars": 0}


def read_docx(data: bytes) -> None:
    d = docx.Document(io.BytesIO(data))
    n = sum(len(p.text) for p in d.paragraphs)
    for table in d.tables:
        for row in table.rows:
            for cell in row.cells:
                n += len(cell.text)
    counts["chars"] += n


def read_pdf(data: bytes) -> None:
    pdf = pdfium.PdfDocument(data)
    try:
        page = pdf[len(pdf) - 1]
        page.render(scale=100 / 72).to_numpy()
        page.close()
    finally:
        pdf.close()


with IMAPClient(host, port=port, ssl=False, timeout=60) as c:
    c._imap.debug = 0  # as intake does: imaplib at imapclient's debug level 5 formats every mail body into a log string
    c.login(user, os.environ["BENCH_IMAP_PASSWORD"])
    c.select_folder("INBOX", readonly=True)
    uids = c.search(["ALL"])
    for i in range(0, len(uids), 50):
        for uid, data in c.fetch(uids[i : i + 50], ["BODY.PEEK[]"]).items():
            msg = message_from_bytes(data[b"BODY[]"], policy=policy.default)
            counts["mails"] += 1
            for part in msg.iter_attachments():
                name = (part.get_filename() or "").lower()
                payload = part.get_content()
                if name.endswith(".docx"):
                    read_docx(payload)
                    counts["docx"] += 1
                elif name.endswith(".pdf"):
                    read_pdf(payload)
                    counts["pdf"] += 1
print(counts)
