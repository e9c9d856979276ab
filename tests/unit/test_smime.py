"""Opaque-signed and encrypted S/MIME mail (smime.p7m): the files inside are found;
an encrypted mail is a clear problem, never "no attachment"."""
from __future__ import annotations

import base64
import datetime

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

import mail_corpus as corpus
from pipeline import smime
from pipeline.mime import ENCRYPTED_MAIL, parse_mail
from pipeline.models import RawMail


@pytest.fixture(scope="module")
def signer():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "红旗区科协")])
    now = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    return key, cert


def inner_entity() -> bytes:
    """What Outlook signs: a multipart with the text, the Word form and the PDF (GBK names)."""
    files = [
        corpus.part([("Content-Type", f'application/vnd.openxmlformats-officedocument.wordprocessingml.document; name="{corpus.enc_word("红旗区申报书.docx")}"'),
                     ("Content-Disposition", f'attachment; filename="{corpus.enc_word("红旗区申报书.docx")}"')], corpus.DOCX),
        corpus.part([("Content-Type", 'application/pdf; name="gz.pdf"'), ("Content-Disposition", 'attachment; filename="gz.pdf"')], corpus.PDF),
    ]
    body = corpus.part([("Content-Type", "text/plain; charset=gb2312")], "请查收申报材料。".encode("gb2312"))
    boundary = b"----=_inner_001"
    parts = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in [body, *files])
    return b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n' + parts + b"--" + boundary + b"--\r\n"


def sign(signer, content: bytes) -> bytes:
    key, cert = signer
    return (
        pkcs7.PKCS7SignatureBuilder().set_data(content).add_signer(cert, key, hashes.SHA256())
        .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


def wrap(blob: bytes, smime_type: str, *, top: bool) -> bytes:
    lines = base64.encodebytes(blob).replace(b"\n", b"\r\n")
    head = (b"From: =?utf-8?B?" + base64.b64encode("李晓燕".encode()) + b"?= <hqqkx@163.com>\r\n"
            b"To: kpzx350@163.com\r\nSubject: =?utf-8?B?" + base64.b64encode("申报材料".encode()) + b"?=\r\n"
            b"Date: Fri, 20 Jun 2025 10:00:00 +0800\r\nMessage-ID: <p7m-1@163.com>\r\nMIME-Version: 1.0\r\n")
    ctype = f'Content-Type: application/pkcs7-mime; smime-type={smime_type}; name="smime.p7m"\r\n'.encode()
    part = ctype + b'Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="smime.p7m"\r\n\r\n' + lines
    if top:
        return head + part
    body = corpus.part([("Content-Type", "text/plain; charset=utf-8")], "见附件".encode())
    return (head + b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\n' + body + b"\r\n--b1\r\n" + part + b"\r\n--b1--\r\n")


def parse(data: bytes):
    import hashlib

    when = datetime.datetime(2025, 6, 20, 2, tzinfo=datetime.timezone.utc)
    return parse_mail(RawMail(data=data, sha256=hashlib.sha256(data).hexdigest(), source="import", received_at=when))


@pytest.mark.parametrize("top", [True, False], ids=["whole_mail", "attached_part"])
def test_opaque_signed_mail_gives_its_files(signer, top):
    """The files were lost (one smime.p7m of kind other) and the reply said nothing had been attached."""
    mail = parse(wrap(sign(signer, inner_entity()), "signed-data", top=top))
    assert sorted((a.filename, a.kind) for a in mail.attachments) == [("gz.pdf", "pdf"), ("红旗区申报书.docx", "docx")]
    assert "请查收申报材料" in mail.body_text
    assert not mail.problems


def test_ber_streamed_signed_data_is_read(signer):
    """openssl/Outlook can write BER with indefinite lengths and the content in chunks."""
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    key, cert = signer
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        (d / "k.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        (d / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (d / "in").write_bytes(inner_entity())
        subprocess.run(["openssl", "cms", "-sign", "-nodetach", "-binary", "-stream", "-in", str(d / "in"), "-signer", str(d / "c.pem"),
                        "-inkey", str(d / "k.pem"), "-outform", "DER", "-out", str(d / "s.der")], check=True, capture_output=True)
        blob = (d / "s.der").read_bytes()
    assert blob[1] == 0x80  # indefinite length
    assert smime.signed_content(blob) == inner_entity()


def test_encrypted_mail_is_a_clear_problem(signer):
    key, cert = signer
    blob = pkcs7.PKCS7EnvelopeBuilder().set_data(inner_entity()).add_recipient(cert).encrypt(serialization.Encoding.DER, [])
    assert smime.kind(blob) == "encrypted"
    mail = parse(wrap(blob, "enveloped-data", top=True))
    assert mail.attachments == () and ENCRYPTED_MAIL in mail.problems
    assert "加密" in ENCRYPTED_MAIL.message


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_are_read_or_refused(data):
    for blob in (data, b"\x30\x80" + data, b"\x30\x82\x01\x00\x06\x09" + smime.SIGNED_DATA + data):
        assert smime.kind(blob) in (None, "signed", "encrypted")
        assert smime.signed_content(blob) is None or isinstance(smime.signed_content(blob), bytes)


def test_an_encrypted_mail_is_not_also_told_its_files_never_came(tmp_path, signer):
    from pipeline_harness import Pipeline
    from test_pipeline_corpus import reply_text

    key, cert = signer
    blob = pkcs7.PKCS7EnvelopeBuilder().set_data(inner_entity()).add_recipient(cert).encrypt(serialization.Encoding.DER, [])
    pipe = Pipeline(tmp_path)
    try:
        pipe.feed(wrap(blob, "enveloped-data", top=False))
        pipe.judge()
        (reply,) = pipe.rows("SELECT * FROM outbox")
        text = reply_text(reply)
        assert reply["kind"] == "correction" and "取消“加密邮件”" in text
        assert "未收到 Word 版" not in text and "未收到盖章 PDF 版" not in text
    finally:
        pipe.close()
