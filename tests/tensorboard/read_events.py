#!/usr/bin/python3
"""Independent reader of TensorBoard event files (no code of ours, no TensorFlow): parses TFRecord framing,
checks both masked CRC-32C of every record, decodes the Event protobuf wire format by hand and prints
{"file_version": ..., "scalars": [{"tag", "step", "wall_time", "value"}, ...]} as JSON. Exits 1 on any
checksum or framing error, naming the file and byte offset."""
import json
import struct
import sys


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        i += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, i
        shift += 7


def fields(buf):
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            v, i = varint(buf, i)
        elif wire == 1:
            v = buf[i:i + 8]; i += 8
        elif wire == 5:
            v = buf[i:i + 4]; i += 4
        elif wire == 2:
            n, i = varint(buf, i)
            v = buf[i:i + n]; i += n
        else:
            raise ValueError("wire type %d" % wire)
        yield number, wire, v


def read(path, out):
    data = open(path, "rb").read()
    at = 0
    while at < len(data):
        header = data[at:at + 8]
        if len(header) < 8:
            sys.exit("%s: truncated header at byte %d" % (path, at))
        (length,) = struct.unpack("<Q", header)
        (hcrc,) = struct.unpack("<I", data[at + 8:at + 12])
        if hcrc != masked(header):
            sys.exit("%s: bad length crc at byte %d" % (path, at))
        payload = data[at + 12:at + 12 + length]
        (pcrc,) = struct.unpack("<I", data[at + 12 + length:at + 16 + length])
        if len(payload) != length or pcrc != masked(payload):
            sys.exit("%s: bad payload crc at byte %d" % (path, at))
        at += 16 + length
        wall, step, summary = 0.0, 0, []
        for number, wire, v in fields(payload):
            if number == 1 and wire == 1:
                (wall,) = struct.unpack("<d", v)
            elif number == 2 and wire == 0:
                step = v
            elif number == 3 and wire == 2:
                out["file_version"].append(v.decode())
            elif number == 5 and wire == 2:
                for n2, w2, value in fields(v):
                    if n2 == 1 and w2 == 2:
                        tag, simple = None, None
                        for n3, w3, x in fields(value):
                            if n3 == 1 and w3 == 2:
                                tag = x.decode()
                            elif n3 == 2 and w3 == 5:
                                (simple,) = struct.unpack("<f", x)
                        summary.append((tag, simple))
        for tag, simple in summary:
            out["scalars"].append({"tag": tag, "step": step, "wall_time": wall, "value": simple})


def main():
    out = {"file_version": [], "scalars": []}
    for path in sys.argv[1:]:
        read(path, out)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
