#!/usr/bin/env python3
"""Regenerates src/command/docs/data.rs from a running Redis 7.0 reference server.

Usage: tools/gen_docs.py REDIS_PORT COMMAND_LIST_FILE > src/command/docs/data.rs && cargo fmt
COMMAND_LIST_FILE holds one full command name a line (`set`, `config|get`),
e.g. the output of `redis-cli -p <coreshard port> command list`.
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


def s(x):
    return '"' + x.replace("\\", "\\\\").replace('"', '\\"') + '"'


ARG_FIELDS = ["name", "type", "display_text", "key_spec_index", "token", "summary",
              "since", "deprecated_since", "flags", "arguments"]
DOC_FIELDS = ["summary", "since", "group", "complexity", "doc_flags", "deprecated_since",
              "replaced_by", "history", "arguments", "subcommands"]
FLAG_CONST = {"RO": "RO", "RW": "RW", "OW": "OW", "RM": "RM", "access": "ACCESS",
              "update": "UPDATE", "insert": "INSERT", "delete": "DELETE",
              "not_key": "NOT_KEY", "incomplete": "INCOMPLETE",
              "variable_flags": "VARIABLE_FLAGS"}


def check_order(keys, order, what):
    idx = [order.index(k) for k in keys]
    assert idx == sorted(idx), (what, keys)


def arg(a, ind):
    m = dict(a[1])
    check_order([k for k, _ in a[1]], ARG_FIELDS, m["name"])
    parts = ["name: %s" % s(m["name"][1]), "kind: %s" % s(m["type"][1])]
    for f in ("display_text", "token", "summary", "since", "deprecated_since"):
        if f in m:
            parts.append("%s: %s" % (f, s(m[f][1])))
    if "key_spec_index" in m:
        parts.append("key_spec_index: %d" % m["key_spec_index"][1])
    if "flags" in m:
        parts.append("flags: &[%s]" % ", ".join(s(x[1]) for x in m["flags"][1]))
    if "arguments" in m:
        parts.append("args: " + args(m["arguments"][1], ind + 1))
    return "Arg { %s, ..ARG }" % ", ".join(parts)


def args(lst, ind):
    pad = "    " * (ind + 1)
    inner = "".join("%s%s,\n" % (pad, arg(a, ind + 1)) for a in lst)
    return "&[\n%s%s]" % (inner, "    " * ind)


def key_spec(m):
    d = dict(m[1])
    check_order([k for k, _ in m[1]], ["notes", "flags", "begin_search", "find_keys"], "ks")
    flags = " | ".join(FLAG_CONST[f[1]] for f in d["flags"][1]) or "0"
    b = dict(d["begin_search"][1])
    bs = dict(b["spec"][1])
    if b["type"][1] == "index":
        begin = "Begin::Index(%d)" % bs["index"][1]
    elif b["type"][1] == "keyword":
        begin = "Begin::Keyword(%s, %d)" % (s(bs["keyword"][1]), bs["startfrom"][1])
    else:
        begin = "Begin::Unknown"
    fk = dict(d["find_keys"][1])
    fs = dict(fk["spec"][1])
    if fk["type"][1] == "range":
        find = "Find::Range(%d, %d, %d)" % (fs["lastkey"][1], fs["keystep"][1], fs["limit"][1])
    elif fk["type"][1] == "keynum":
        find = "Find::Keynum(%d, %d, %d)" % (fs["keynumidx"][1], fs["firstkey"][1],
                                             fs["keystep"][1])
    else:
        find = "Find::Unknown"
    notes = ", notes: %s" % s(d["notes"][1] if "notes" in d else "")
    return "KeySpec { flags: %s, begin: %s, find: %s%s }" % (flags, begin, find, notes)


def main():
    c = Conn(int(sys.argv[1]))
    c.cmd("HELLO", "3")
    names = [l.strip() for l in open(sys.argv[2]) if l.strip()]
    out = []
    for name in names:
        docs = c.cmd("COMMAND", "DOCS", name)[1]
        if not docs:
            print("skipping %s: unknown to the reference" % name, file=sys.stderr)
            continue
        d = docs[0][1][1]
        check_order([k for k, _ in d], DOC_FIELDS, name)
        d = dict(d)
        info = c.cmd("COMMAND", "INFO", name)[1][0][1]
        specs = info[8][1]
        e = ["    Docs {", "        name: %s," % s(name)]
        for f in ("summary", "since", "group", "complexity"):
            e.append("        %s: %s," % (f, s(d[f][1] if f in d else "")))
        e.append("        tips: &[%s]," % ", ".join(s(t[1]) for t in info[7][1]))
        if "doc_flags" in d:
            e.append("        doc_flags: &[%s]," % ", ".join(s(x[1]) for x in d["doc_flags"][1]))
        for f in ("deprecated_since", "replaced_by"):
            if f in d:
                e.append("        %s: %s," % (f, s(d[f][1])))
        if "history" in d:
            e.append("        history: &[")
            for h in d["history"][1]:
                e.append("            (%s, %s)," % (s(h[1][0][1]), s(h[1][1][1])))
            e.append("        ],")
        if "arguments" in d:
            e.append("        args: %s," % args(d["arguments"][1], 2))
        e.append("        key_specs: &[")
        for m in specs:
            e.append("            %s," % key_spec(m))
        e.append("        ],")
        e.append("        ..DOCS")
        e.append("    },")
        out.append("\n".join(e))
    print(HEADER)
    print("pub static TABLE: &[Docs] = &[")
    print("\n".join(out))
    print("];")


HEADER = '''//! Documentation data of each command for COMMAND DOCS and COMMAND INFO:
//! argument trees, history, doc flags and key specs, keyed by full command name.
//!
//! Generated by `tools/gen_docs.py` from the reference server (see there);
//! regenerate after adding commands. The shapes live in `super` (docs.rs).
// @generated

use super::super::keyflags::*;
use super::{ARG, Arg, Begin, DOCS, Docs, Find, KeySpec};
'''

main()
