"""The content of an opaque-signed S/MIME mail (smime.p7m), without verifying it.

Outlook with a digital ID, Exchange S/MIME policies and CA mail plug-ins can send
`application/pkcs7-mime; smime-type=signed-data`: the whole mail, Word and PDF
included, sits inside a DER (or BER) SignedData blob. We only need that inner MIME
entity; the signature is not ours to check. An encrypted mail (EnvelopedData) cannot
be read at all, and the applicant is asked to send it unencrypted.

A small BER walker, bounded in depth and size, because the blob comes from outside:
malformed input gives None, never an exception.
"""
from __future__ import annotations

SIGNED_DATA = bytes.fromhex("2a864886f70d010702")  # 1.2.840.113549.1.7.2
ENVELOPED_DATA = bytes.fromhex("2a864886f70d010703")  # 1.2.840.113549.1.7.3
AUTH_ENVELOPED_DATA = bytes.fromhex("2a864886f70d0109100117")  # 1.2.840.113549.1.9.16.1.23
MAX_DEPTH = 12
MAX_NODES = 100_000


class _Malformed(Exception):
    pass


class _Node:
    __slots__ = ("tag", "constructed", "value", "children")

    def __init__(self, tag: int, constructed: bool, value: bytes, children: list["_Node"]):
        self.tag, self.constructed, self.value, self.children = tag, constructed, value, children

    def octets(self) -> bytes:
        """An OCTET STRING's bytes, also when BER splits it into chunks."""
        if not self.constructed:
            return self.value
        return b"".join(child.octets() for child in self.children)


def _parse(data: bytes, pos: int, end: int, depth: int, budget: list[int]) -> tuple[_Node, int]:
    if depth > MAX_DEPTH or pos + 2 > end:
        raise _Malformed
    budget[0] -= 1
    if budget[0] < 0:
        raise _Malformed
    first = data[pos]
    tag, constructed = first, bool(first & 0x20)
    pos += 1
    if first & 0x1F == 0x1F:  # high tag number: base-128 digits follow
        while pos < end and data[pos] & 0x80:
            pos += 1
        pos += 1
    if pos >= end:
        raise _Malformed
    length = data[pos]
    pos += 1
    if length == 0x80:  # indefinite: constructed, children until end-of-contents
        if not constructed:
            raise _Malformed
        children = []
        while True:
            if pos + 2 > end:
                raise _Malformed
            if data[pos] == 0 and data[pos + 1] == 0:
                return _Node(tag, True, b"", children), pos + 2
            child, pos = _parse(data, pos, end, depth + 1, budget)
            children.append(child)
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise _Malformed
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    stop = pos + length
    if stop > end:
        raise _Malformed
    if not constructed:
        return _Node(tag, False, data[pos:stop], []), stop
    children = []
    while pos < stop:
        child, pos = _parse(data, pos, stop, depth + 1, budget)
        children.append(child)
    return _Node(tag, True, b"", children), stop


def _content_info(data: bytes) -> tuple[bytes, _Node | None] | None:
    """(content type OID, the [0] content's inner node) of a ContentInfo, or None."""
    try:
        root, _ = _parse(data, 0, len(data), 0, [MAX_NODES])
    except (_Malformed, IndexError, RecursionError):
        return None
    if root.tag != 0x30 or not root.children or root.children[0].tag != 0x06:
        return None
    oid = root.children[0].value
    inner = root.children[1] if len(root.children) > 1 else None
    if inner is not None and inner.tag == 0xA0 and inner.children:
        return oid, inner.children[0]
    return oid, None


def kind(data: bytes) -> str | None:
    """'signed', 'encrypted' or None (not a PKCS #7 / CMS blob)."""
    info = _content_info(data)
    if info is None:
        return None
    if info[0] == SIGNED_DATA:
        return "signed"
    if info[0] in (ENVELOPED_DATA, AUTH_ENVELOPED_DATA):
        return "encrypted"
    return None


def signed_content(data: bytes) -> bytes | None:
    """The encapsulated content of an opaque SignedData (the signed MIME entity), or None."""
    info = _content_info(data)
    if info is None or info[0] != SIGNED_DATA or info[1] is None:
        return None
    signed = info[1]
    # SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo SEQUENCE, ... }
    if signed.tag != 0x30 or len(signed.children) < 3:
        return None
    encap = signed.children[2]
    if encap.tag != 0x30 or len(encap.children) < 2 or encap.children[1].tag != 0xA0:
        return None  # detached: the content travels beside the signature (multipart/signed)
    explicit = encap.children[1]
    if not explicit.children or explicit.children[0].tag not in (0x04, 0x24):
        return None
    return explicit.children[0].octets()
