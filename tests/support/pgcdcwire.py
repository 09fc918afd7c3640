"""Read pgcdc records and keys in tests, independently of the C code: a
minimal protobuf wire reader for proto/cdc.proto's fields (no generated code)."""

OPS = {1: "begin", 2: "commit", 3: "insert", 4: "update", 5: "delete", 6: "truncate",
       7: "message", 8: "read", 9: "relation",
       10: "oversized", 11: "range", 12: "stream_abort", 13: "stream_commit"}


def _varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def fields(buf):
    """[(field number, wire type, value)]: ints for varints, bytes otherwise."""
    out, i = [], 0
    while i < len(buf):
        tag, i = _varint(buf, i)
        num, wire = tag >> 3, tag & 7
        if wire == 0:
            v, i = _varint(buf, i)
        elif wire == 2:
            n, i = _varint(buf, i)
            v, i = bytes(buf[i:i + n]), i + n
        elif wire == 1:
            v, i = bytes(buf[i:i + 8]), i + 8
        elif wire == 5:
            v, i = bytes(buf[i:i + 4]), i + 4
        else:
            raise ValueError(f"wire type {wire}")
        out.append((num, wire, v))
    return out


def _put_varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def pack(items):
    """fields()'s inverse: [(field number, wire type, value)] back to bytes,
    for tests that forge or damage records."""
    out = bytearray()
    for num, wire, v in items:
        out += _put_varint(num << 3 | wire)
        if wire == 0:
            out += _put_varint(v)
        elif wire == 2:
            out += _put_varint(len(v)) + v
        else:
            out += v
    return bytes(out)


def frames(buf):
    """The records of a batch-bytes message: each preceded by its varint length."""
    out, i = [], 0
    while i < len(buf):
        n, i = _varint(buf, i)
        if i + n > len(buf):
            raise ValueError(f"record of {n} bytes, {len(buf) - i} left")
        out.append(bytes(buf[i:i + n]))
        i += n
    return out


def zigzag(v):
    return (v >> 1) ^ -(v & 1)


def value(buf):
    """A Value as a Python object: None, 'unchanged-toast', int, str, bytes, ..."""
    for num, wire, v in fields(buf):
        if num == 1:
            return None
        if num == 2:
            return "unchanged-toast"
        if num == 3:
            return bool(v)
        if num in (4, 7):
            return zigzag(v)
        if num in (6, 11):
            return v.decode()
        if num in (12, 13):
            return v
        return v
    return "unset"


def key(buf):
    """A Kafka key: the tuple of key column values (None for a null key)."""
    if buf is None:
        return None
    return tuple(value(v) for num, _, v in fields(buf) if num == 1)


def record(buf):
    """A (self-describing) record as a dict; later scalar fields win, as in protobuf."""
    r = {"before": [], "after": [], "columns": []}
    for num, wire, v in fields(buf):
        if num == 2:
            r["op"] = OPS.get(v, v)
        elif num in (3, 4, 6, 11, 23):
            r[{3: "commit_lsn", 4: "lsn", 6: "xid", 11: "relid", 23: "end_lsn"}[num]] = v
        elif num in (9, 10, 20):
            r[{9: "schema", 10: "table", 20: "prefix"}[num]] = v.decode()
        elif num == 12:
            r["before"].append(value(v))
        elif num == 13:
            r["after"].append(value(v))
        elif num == 16:
            col = {n: x for n, _, x in fields(v)}
            r["columns"].append({"name": col.get(1, b"").decode(), "key": bool(col.get(4, 0))})
        elif num == 24:
            c = {n: x for n, _, x in fields(v)}
            r.setdefault("event_counts", {})[f"{c[1].decode()}.{c[2].decode()}"] = c.get(3, 0)
    if r["columns"]:
        names = [c["name"] for c in r["columns"]]
        r["row"] = dict(zip(names, r["after"])) if r["after"] else None
        r["old"] = dict(zip(names, r["before"])) if r["before"] else None
    return r
