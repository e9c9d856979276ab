"""A tiny Compound File (OLE2) writer for tests: Outlook .msg look-alikes and encrypted Office
packages (streams padded to >= 4096 bytes so no mini stream is needed). Written in QA round 5."""
import struct
FREE, END, FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD

def build(tree):
    """tree: {name: bytes | dict} under the root. Returns CFB bytes."""
    entries = []  # (name, type, data, children_ids)
    def add(name, node):
        idx = len(entries)
        entries.append([name, 1 if isinstance(node, dict) else 2, node if not isinstance(node, dict) else None, []])
        if isinstance(node, dict):
            for k, v in node.items():
                entries[idx][3].append(add(k, v))
        return idx
    root = add("Root Entry", tree)
    entries[root][1] = 5
    sectors = []  # list of 512-byte sectors (data)
    starts = {}
    for i, (name, typ, data, _) in enumerate(entries):
        if typ == 2:
            d = data + b"\x00" * max(0, 4096 - len(data))
            entries[i][2] = d
            n = (len(d) + 511) // 512
            starts[i] = (len(sectors), n)
            d += b"\x00" * (n * 512 - len(d))
            sectors += [d[k*512:(k+1)*512] for k in range(n)]
    # directory
    dirdata = b""
    for i, (name, typ, data, kids) in enumerate(entries):
        nm = name.encode("utf-16-le") + b"\x00\x00"
        child = kids[0] if kids else FREE
        # siblings: chain each kid's right sibling to the next kid
        right = FREE
        for parent in entries:
            if i in parent[3]:
                pos = parent[3].index(i)
                right = parent[3][pos + 1] if pos + 1 < len(parent[3]) else FREE
        start, size = (starts[i][0], len(data)) if typ == 2 else (END, 0)
        e = nm.ljust(64, b"\x00") + struct.pack("<HBBIII", len(nm), typ, 1, FREE, right, child)
        e += b"\x00" * 16 + b"\x00" * 4 + b"\x00" * 16 + struct.pack("<IQ", start, size)
        dirdata += e
    dirdata += (b"\x00" * 64 + struct.pack("<HBBIII", 0, 0, 0, FREE, FREE, FREE) + b"\x00" * 36 + struct.pack("<IQ", 0, 0)) * ((-len(entries)) % 4)
    dir_start = len(sectors)
    ndir = len(dirdata) // 512
    sectors += [dirdata[k*512:(k+1)*512] for k in range(ndir)]
    nfat = 1
    while (len(sectors) + nfat) > nfat * 128:
        nfat += 1
    fat_start = len(sectors)
    fat = [FREE] * (nfat * 128)
    for i, (s, n) in starts.items():
        for k in range(n):
            fat[s + k] = s + k + 1 if k < n - 1 else END
    for k in range(ndir):
        fat[dir_start + k] = dir_start + k + 1 if k < ndir - 1 else END
    for k in range(nfat):
        fat[fat_start + k] = FATSECT
    fatdata = struct.pack("<%dI" % len(fat), *fat)
    sectors += [fatdata[k*512:(k+1)*512] for k in range(nfat)]
    difat = [fat_start + k for k in range(nfat)] + [FREE] * (109 - nfat)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\x00" * 6
              + struct.pack("<IIIIIIIII", 0, nfat, dir_start, 0, 4096, END, 0, END, 0) + struct.pack("<109I", *difat))
    return header + b"".join(sectors)

def msg(subject, attachments, sender="李晓燕"):
    u = lambda s: s.encode("utf-16-le") + b"\x00\x00"
    tree = {"__substg1.0_001A001F": u("IPM.Note"), "__substg1.0_0037001F": u(subject),
            "__substg1.0_0C1A001F": u(sender), "__substg1.0_1000001F": u("您好，附件为申报材料，请查收。"),
            "__properties_version1.0": b"\x00" * 32}
    for i, (name, data) in enumerate(attachments):
        tree["__attach_version1.0_#%08X" % i] = {
            "__substg1.0_3707001F": u(name), "__substg1.0_3704001F": u(name[:8]),
            "__substg1.0_3703001F": u("." + name.rsplit(".", 1)[-1]), "__substg1.0_37010102": data,
            "__properties_version1.0": b"\x00" * 16}
    tree["__recip_version1.0_#00000000"] = {"__substg1.0_3001001F": u("kpzx350@163.com"), "__properties_version1.0": b"\x00" * 8}
    return build(tree)
