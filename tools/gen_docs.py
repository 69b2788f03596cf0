#!/usr/bin/env python3
"""Regenerates src/command/docs/data.txt from a running Redis 7.0 reference server.

Usage: tools/gen_docs.py REDIS_PORT COMMAND_LIST_FILE > src/command/docs/data.txt
COMMAND_LIST_FILE holds one full command name a line (`set`, `config|get`),
e.g. the output of `redis-cli -p <redis port> command list` (every 7.0 command,
so commands added to coreshard later are already covered).
Commands the reference does not know are skipped.
"""
import socket
import sys


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.read()

    def read(self):
        line = self.f.readline()[:-2]
        t, rest = line[:1], line[1:]
        if t == b"+":
            return ("simple", rest.decode())
        if t == b"-":
            raise Exception(rest.decode())
        if t == b":":
            return ("int", int(rest))
        if t == b"$":
            return ("bulk", self.f.read(int(rest) + 2)[:-2].decode())
        if t == b"%":
            return ("map", [(self.read()[1], self.read()) for _ in range(int(rest))])
        if t in (b"*", b"~"):
            kind = "array" if t == b"*" else "set"
            return (kind, [self.read() for _ in range(int(rest))])
        raise Exception("unexpected reply %r" % line)


def clean(x):
    assert "\t" not in x and "\n" not in x and "\r" not in x, x
    return x


ARG_FIELDS = ["name", "type", "display_text", "key_spec_index", "token", "summary",
              "since", "deprecated_since", "flags", "arguments"]
DOC_FIELDS = ["summary", "since", "group", "complexity", "doc_flags", "deprecated_since",
              "replaced_by", "history", "arguments", "subcommands"]


def check_order(keys, order, what):
    idx = [order.index(k) for k in keys]
    assert idx == sorted(idx), (what, keys)


def args(lst, depth, out):
    for a in lst:
        m = dict(a[1])
        check_order([k for k, _ in a[1]], ARG_FIELDS, m["name"])
        f = lambda k: clean(m[k][1]) if k in m else ""
        ksi = str(m["key_spec_index"][1]) if "key_spec_index" in m else ""
        flags = ",".join(x[1] for x in m["flags"][1]) if "flags" in m else ""
        # An empty token (MIGRATE's "") is written as two double quotes.
        token = (f("token") or '""') if "token" in m else ""
        out.append("\t".join(["A", str(depth), f("name"), f("type"), f("display_text"), ksi,
                               token, f("summary"), f("since"), f("deprecated_since"),
                               flags]))
        if "arguments" in m:
            args(m["arguments"][1], depth + 1, out)


def key_spec(m):
    d = dict(m[1])
    check_order([k for k, _ in m[1]], ["notes", "flags", "begin_search", "find_keys"], "ks")
    flags = " ".join(f[1] for f in d["flags"][1])
    b = dict(d["begin_search"][1])
    bs = dict(b["spec"][1])
    if b["type"][1] == "index":
        begin = "index %d" % bs["index"][1]
    elif b["type"][1] == "keyword":
        begin = "keyword %s %d" % (clean(bs["keyword"][1]), bs["startfrom"][1])
    else:
        begin = "unknown"
    fk = dict(d["find_keys"][1])
    fs = dict(fk["spec"][1])
    if fk["type"][1] == "range":
        find = "range %d %d %d" % (fs["lastkey"][1], fs["keystep"][1], fs["limit"][1])
    elif fk["type"][1] == "keynum":
        find = "keynum %d %d %d" % (fs["keynumidx"][1], fs["firstkey"][1], fs["keystep"][1])
    else:
        find = "unknown"
    notes = clean(d["notes"][1]) if "notes" in d else ""
    return "\t".join(["K", flags, begin, find, notes])


def main():
    c = Conn(int(sys.argv[1]))
    c.cmd("HELLO", "3")
    names = [l.strip() for l in open(sys.argv[2]) if l.strip()]
    out = [HEADER]
    for name in names:
        docs = c.cmd("COMMAND", "DOCS", name)[1]
        if not docs:
            print("skipping %s: unknown to the reference" % name, file=sys.stderr)
            continue
        d = docs[0][1][1]
        check_order([k for k, _ in d], DOC_FIELDS, name)
        d = dict(d)
        info = c.cmd("COMMAND", "INFO", name)[1][0][1]
        g = lambda k: clean(d[k][1]) if k in d else ""
        out.append("\t".join(["C", name, g("summary"), g("since"), g("group"),
                               g("complexity"), g("deprecated_since"), g("replaced_by")]))
        for t in info[7][1]:
            out.append("T\t" + clean(t[1]))
        for f in d.get("doc_flags", ("set", []))[1]:
            out.append("F\t" + clean(f[1]))
        for h in d.get("history", ("set", []))[1]:
            out.append("\t".join(["H", clean(h[1][0][1]), clean(h[1][1][1])]))
        for m in info[8][1]:
            out.append(key_spec(m))
        args(d.get("arguments", ("array", []))[1], 0, out)
    print("\n".join(out))


HEADER = """# Command documentation for COMMAND DOCS / COMMAND INFO, one record a line,
# fields separated by tabs (empty field: absent). Generated by tools/gen_docs.py
# from the reference server; parsed once by src/command/docs.rs.
# C name summary since group complexity deprecated_since replaced_by
# T tip | F doc_flag | H version text
# K key-flags begin(index N|keyword KW N|unknown) find(range L S M|keynum I F S|unknown) notes
# A depth name type display_text key_spec_index token summary since deprecated_since flags
# (token "" stands for an empty token)"""

main()
