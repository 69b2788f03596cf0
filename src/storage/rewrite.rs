//! A key's whole state as the commands that rebuild it (as Redis's
//! append-only-file rewrite writes a key): the journal records a key this
//! way when the change that led to it was made by several hops (a
//! cross-shard RENAME, COPY, SMOVE, STORE...).

use super::db::Entry;
use super::stream::{Stream, StreamId};
use super::value::Value;

/// Items per rebuilding command (a big value takes several).
const BATCH: usize = 64;

type Cmd = Vec<Vec<u8>>;

fn start(name: &[u8], key: &[u8]) -> Cmd {
    vec![name.to_vec(), key.to_vec()]
}

/// Pushes `items` as `name key item...` commands of at most [`BATCH`] items.
fn batched(out: &mut Vec<Cmd>, name: &[u8], key: &[u8], items: impl Iterator<Item = Vec<Vec<u8>>>) {
    let mut cur = start(name, key);
    let mut n = 0;
    for item in items {
        cur.extend(item);
        n += 1;
        if n == BATCH {
            out.push(std::mem::replace(&mut cur, start(name, key)));
            n = 0;
        }
    }
    if n > 0 {
        out.push(cur);
    }
}

fn id_text(id: StreamId) -> Vec<u8> {
    id.text()
}

fn stream_commands(out: &mut Vec<Cmd>, key: &[u8], s: &Stream) {
    for e in s.log.range(StreamId::MIN, StreamId::MAX, false) {
        let mut cmd = vec![b"XADD".to_vec(), key.to_vec(), id_text(e.id())];
        for (f, v) in e.pairs() {
            cmd.push(f.to_vec());
            cmd.push(v.to_vec());
        }
        out.push(cmd);
    }
    if s.log.is_empty() {
        // An empty stream exists only through XADD ... then XDEL, or
        // MKSTREAM: create it with a placeholder entry and take it out.
        out.push(vec![
            b"XADD".to_vec(),
            key.to_vec(),
            b"MAXLEN".to_vec(),
            b"0".to_vec(),
            b"0-1".to_vec(),
            b"x".to_vec(),
            b"y".to_vec(),
        ]);
    }
    out.push(vec![
        b"XSETID".to_vec(),
        key.to_vec(),
        id_text(s.log.last_id),
        b"ENTRIESADDED".to_vec(),
        s.log.entries_added.to_string().into_bytes(),
        b"MAXDELETEDID".to_vec(),
        id_text(s.log.max_deleted_id),
    ]);
    for (name, g) in &s.groups {
        out.push(vec![
            b"XGROUP".to_vec(),
            b"CREATE".to_vec(),
            key.to_vec(),
            name.to_vec(),
            id_text(g.last_id),
            b"ENTRIESREAD".to_vec(),
            g.entries_read.to_string().into_bytes(),
        ]);
        for cname in g.consumers.keys() {
            out.push(vec![
                b"XGROUP".to_vec(),
                b"CREATECONSUMER".to_vec(),
                key.to_vec(),
                name.to_vec(),
                cname.to_vec(),
            ]);
        }
        for (id, nack) in &g.pel {
            out.push(vec![
                b"XCLAIM".to_vec(),
                key.to_vec(),
                name.to_vec(),
                nack.consumer.to_vec(),
                b"0".to_vec(),
                id_text(*id),
                b"TIME".to_vec(),
                nack.delivery_time.to_string().into_bytes(),
                b"RETRYCOUNT".to_vec(),
                nack.delivery_count.to_string().into_bytes(),
                b"FORCE".to_vec(),
                b"JUSTID".to_vec(),
                b"LASTID".to_vec(),
                id_text(g.last_id),
            ]);
        }
    }
}

/// The commands that make `key` hold `entry` (value and expiry) on a
/// server where it does not exist.
pub fn rebuild(key: &[u8], entry: &Entry) -> Vec<Cmd> {
    let mut out = Vec::new();
    match &entry.value {
        v @ (Value::Str(_) | Value::Raw(_)) => {
            if let Some(s) = v.as_str() {
                out.push(vec![b"SET".to_vec(), key.to_vec(), s.to_vec()]);
            }
        }
        Value::List(l) => batched(&mut out, b"RPUSH", key, l.iter().map(|e| vec![e.to_vec()])),
        Value::Hash(h) => batched(
            &mut out,
            b"HSET",
            key,
            h.iter().map(|(f, v)| vec![f.to_vec(), v.to_vec()]),
        ),
        Value::Set(s) => batched(&mut out, b"SADD", key, s.iter().map(|m| vec![m.to_vec()])),
        Value::ZSet(z) => {
            let mut items = Vec::with_capacity(z.len());
            z.iter_all(|m, score| {
                items.push(vec![
                    crate::protocol::reply::format_g17(score).into_bytes(),
                    m.to_vec(),
                ])
            });
            batched(&mut out, b"ZADD", key, items.into_iter());
        }
        Value::Stream(s) => stream_commands(&mut out, key, s),
    }
    if entry.expire != 0 {
        out.push(vec![
            b"PEXPIREAT".to_vec(),
            key.to_vec(),
            entry.expire.to_string().into_bytes(),
        ]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::list::{Fill, List};
    use crate::storage::zset::{AddFlags, Limits, ZSet};

    fn text(cmds: &[Cmd]) -> Vec<String> {
        cmds.iter()
            .map(|c| {
                c.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    #[test]
    fn a_string_with_a_ttl_is_set_then_given_its_absolute_expiry() {
        let mut e = Entry::new(Value::string(b"v"));
        e.expire = 1_900_000_000_123;
        assert_eq!(
            text(&rebuild(b"k", &e)),
            ["SET k v", "PEXPIREAT k 1900000000123"]
        );
    }

    #[test]
    fn a_long_list_is_pushed_in_batches_in_order() {
        let mut l = List::default();
        for i in 0..(BATCH + 3) {
            l.push_back(i.to_string().as_bytes(), Fill::default());
        }
        let cmds = rebuild(b"l", &Entry::new(Value::List(Box::new(l))));
        assert_eq!(cmds.len(), 2);
        assert_eq!(cmds[0].len(), 2 + BATCH);
        assert_eq!(
            text(&cmds)[1],
            format!("RPUSH l {} {} {}", BATCH, BATCH + 1, BATCH + 2)
        );
        assert_eq!(cmds[0][2], b"0");
    }

    #[test]
    fn sorted_set_scores_keep_every_digit() {
        let mut z = ZSet::default();
        let lim = Limits {
            entries: 128,
            value: 64,
        };
        z.add(0.1, b"a", AddFlags::default(), lim);
        z.add(f64::INFINITY, b"b", AddFlags::default(), lim);
        let cmds = text(&rebuild(b"z", &Entry::new(Value::ZSet(Box::new(z)))));
        assert_eq!(cmds, ["ZADD z 0.10000000000000001 a inf b"]);
    }
}
